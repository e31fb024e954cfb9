// Captures what the display layer sends (instead of a kernel) for the unit tests.
import { type DisplayOptions, type MimeBundle, setDisplaySink } from "../../kernel/mod.ts";
import { show } from "../../kernel/show.ts";

/** One captured display message. */
export interface Captured {
  bundle: MimeBundle;
  options: DisplayOptions;
}

/** Routes displays into an array until `restore()`. */
export function captureDisplays(): { sent: Captured[]; restore: () => void } {
  const sent: Captured[] = [];
  const prev = setDisplaySink((bundle, options) => {
    sent.push({ bundle, options: { ...options } });
  });
  return { sent, restore: () => setDisplaySink(prev) };
}

/** What `show(value)` sends: every bundle, and the text/html ones joined by newlines. */
export async function shown(value: unknown): Promise<{ sent: Captured[]; html: string }> {
  const cap = captureDisplays();
  try {
    await show(value);
  } finally {
    cap.restore();
  }
  const html = cap.sent.filter((d) => "text/html" in d.bundle).map((d) => str(d.bundle, "text/html")).join("\n");
  return { sent: cap.sent, html };
}

/** The string value of a MIME type of a bundle (throws when absent). */
export function str(bundle: MimeBundle, mime: string): string {
  const v = bundle[mime];
  if (typeof v !== "string") throw new Error(`no ${mime} in bundle (${Object.keys(bundle).join(", ")})`);
  return v;
}

/** Attributes of every `<tag ... class="cls" ...>` element in markup, as numbers where numeric. */
export function elements(markup: string, tag: string, cls: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of markup.matchAll(new RegExp(`<${tag}\\s([^>]*)>`, "g"))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1].matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    if ((attrs.class ?? "").split(" ").includes(cls)) out.push(attrs);
  }
  return out;
}
