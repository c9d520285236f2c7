export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** A small self-contained page (no external assets). Callers escape what they interpolate. */
export function page(title: string, bodyHtml: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · AuthKit emulator</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f;line-height:1.5}
h1{font-size:1.4rem}fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0}legend{font-weight:600}
.choice{padding:.15rem 0}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #555;background:#1b1b1f;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1b1b1f}code{background:#f3f3f5;padding:0 .2rem}
.note{color:#555;font-size:.9rem}
</style>
</head>
<body>
<main>
${bodyHtml}
<p class="note">AuthKit emulator: a local stand-in for WorkOS AuthKit, for development and tests.</p>
</main>
</body>
</html>`;
}

export function errorPage(error: string, description: string): string {
  return page(
    'Authorization error',
    `<h1>This sign-in request cannot continue</h1>
<p><code>${escapeHtml(error)}</code>: ${escapeHtml(description)}</p>
<p>Go back to the application and start again.</p>`,
  );
}
