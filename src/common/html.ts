/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export interface PageOptions {
  title: string;
  /** Trusted HTML for the page body; build it with escapeHtml for anything from outside. */
  body: string;
  /** A wider column, for pages with more than a form (the demo's home page). */
  wide?: boolean;
}

/** The one page layout of the service: small, accessible, no scripts, no external assets. */
export function renderPage({ title, body, wide }: PageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · connect-bridge</title>
<style>
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5}
body{margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:Canvas;color:CanvasText}
main{box-sizing:border-box;max-width:28rem;width:calc(100% - 2rem);padding:2rem;margin:1rem;border:1px solid color-mix(in srgb,CanvasText 20%,transparent);border-radius:12px;overflow-wrap:anywhere}
@media (max-width:30rem){main{padding:1.25rem 1rem;margin:.5rem;width:calc(100% - 1rem)}}
h1{font-size:1.4rem;margin:0 0 1rem}
p{margin:.5rem 0 1rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #767676;border-radius:6px}
button,.button{display:inline-block;margin-top:1rem;padding:.6rem 1.1rem;font-size:1rem;border-radius:6px;border:0;background:#1d4ed8;color:#fff;text-decoration:none;cursor:pointer}
.secondary{background:transparent;color:inherit;border:1px solid #767676}
.error{color:#b91c1c;background:color-mix(in srgb,#b91c1c 10%,transparent);padding:.5rem .75rem;border-radius:6px}
code{font-size:.9em}
main.wide{max-width:52rem}
main *{min-width:0}
pre{overflow-x:auto;padding:.75rem;border-radius:6px;background:color-mix(in srgb,CanvasText 6%,transparent)}
svg{max-width:100%;height:auto}
figure{margin:1rem 0}
</style>
</head>
<body>
<main${wide ? ' class="wide"' : ''}>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}
