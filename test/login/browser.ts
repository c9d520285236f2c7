/**
 * A tiny browser for end-to-end tests over node's fetch: a cookie jar (host-scoped, like real
 * browsers, so ports on 127.0.0.1 share cookies), manual redirects across origins, form
 * submission from the HTML the bridge renders.
 */
export interface Page {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expires?: number;
}

const decode = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

export class Browser {
  private readonly jar = new Map<string, StoredCookie>();
  /** Every URL requested, in order. */
  readonly history: string[] = [];

  /** Cookies the jar would send to `url`, as name → value. */
  cookiesFor(url: string): Record<string, string> {
    const u = new URL(url);
    const now = Date.now();
    const out: Record<string, string> = {};
    for (const c of this.jar.values()) {
      if (c.host !== u.hostname || !u.pathname.startsWith(c.path)) continue;
      if (c.expires !== undefined && c.expires <= now) continue;
      out[c.name] = c.value;
    }
    return out;
  }

  setCookie(url: string, name: string, value: string, path = '/'): void {
    const host = new URL(url).hostname;
    this.jar.set(`${host}|${path}|${name}`, { name, value, host, path });
  }

  cookieNames(): string[] {
    return [...this.jar.values()].map((c) => c.name);
  }

  /** One request, no redirect following. */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Page> {
    this.history.push(url);
    const headers: Record<string, string> = { Accept: 'text/html', ...init.headers };
    const cookie = Object.entries(this.cookiesFor(url))
      .map(([n, v]) => `${n}=${v}`)
      .join('; ');
    if (cookie) headers.Cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    });
    this.store(url, res.headers.getSetCookie());
    return { url, status: res.status, html: await res.text(), headers: res.headers };
  }

  /**
   * Requests `url` and follows redirects until a page (non-3xx) or a URL for which `stop`
   * answers true (e.g. the MCP client's redirect_uri, where nothing listens).
   */
  async go(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
    stop: (url: string) => boolean = () => false,
  ): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; page.status >= 300 && page.status < 400; hops++) {
      if (hops > 20) throw new Error(`too many redirects from ${url}`);
      const next = new URL(page.headers.get('location')!, page.url).toString();
      if (stop(next)) return { url: next, status: 0, html: '', headers: new Headers() };
      page = await this.request(next);
    }
    return page;
  }

  /** Submits the form of `page` whose action matches, with the page's hidden fields plus `fields`. */
  async submit(
    page: Page,
    action: string,
    fields: Record<string, string> = {},
    stop?: (url: string) => boolean,
  ): Promise<Page> {
    const form = formFields(page.html, action);
    return this.go(
      new URL(action, page.url).toString(),
      { method: 'POST', form: { ...form, ...fields } },
      stop,
    );
  }

  private store(url: string, setCookies: string[]): void {
    const host = new URL(url).hostname;
    for (const line of setCookies) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expires: number | undefined;
      for (const a of attrs) {
        const [k, v = ''] = a.split('=');
        if (k.toLowerCase() === 'path') path = v || '/';
        if (k.toLowerCase() === 'max-age') expires = Date.now() + Number(v) * 1000;
        if (k.toLowerCase() === 'expires' && expires === undefined) expires = Date.parse(v);
      }
      const key = `${host}|${path}|${name}`;
      if (expires !== undefined && expires <= Date.now()) this.jar.delete(key);
      else this.jar.set(key, { name, value, host, path, expires });
    }
  }
}

/**
 * What the form posting to `action` (first match) sends as it stands: its hidden inputs and its
 * checked radio buttons and checkboxes (a browser's defaults, before anyone clicks).
 */
export function formFields(html: string, action: string): Record<string, string> {
  const forms = html.split('<form').slice(1);
  const form = forms.find((f) => f.includes(`action="${action}"`));
  if (!form) throw new Error(`no form posting to ${action} in:\n${html}`);
  const fields: Record<string, string> = {};
  for (const [tag] of form.split('</form>')[0].matchAll(/<input\b[^>]*>/g)) {
    const attr = (name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
    const type = attr('type') ?? 'text';
    const name = attr('name');
    if (name === undefined) continue;
    const checkable = type === 'radio' || type === 'checkbox';
    if (type !== 'hidden' && !(checkable && /\schecked(?=[\s>])/.test(tag))) continue;
    fields[decode(name)] = decode(attr('value') ?? 'on');
  }
  return fields;
}

/** The choices of the radio group `name` in `html`: value and label text, in order. */
export function radioChoices(html: string, name: string): Array<{ value: string; label: string }> {
  const choices: Array<{ value: string; label: string }> = [];
  for (const [tag] of html.matchAll(/<input\b[^>]*type="radio"[^>]*>/g)) {
    if (!tag.includes(` name="${name}"`)) continue;
    const id = /\sid="([^"]*)"/.exec(tag)?.[1];
    const value = decode(/\svalue="([^"]*)"/.exec(tag)?.[1] ?? 'on');
    const label = id ? new RegExp(`<label for="${id}">([\\s\\S]*?)</label>`).exec(html)?.[1] : undefined;
    choices.push({ value, label: label === undefined ? '' : pageText(label) });
  }
  return choices;
}

/** The text of a page without tags, whitespace collapsed (for assertions about wording). */
export function pageText(html: string): string {
  return decode(html.replace(/<style[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim();
}
