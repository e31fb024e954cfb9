// Captures what the display layer sends (instead of a kernel) for the unit tests.
import { type DisplayOptions, type MimeBundle, setDisplaySink } from "../../kernel/mod.ts";

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
