/**
 * The Qwen3-VL chat message shape the Cosmos 3 Reasoner follows (seed, "Reasoner"):
 * system and user turns whose content is a string or a list of parts —
 * `text`, `image_url` and `video_url`. A URL may be given bare (seed example) or as
 * `{ url }` (OpenAI / NIM example).
 *
 * @example
 * ```ts
 * import { ChatMessages } from "./messages.ts";
 * ChatMessages.parse([
 *   { role: "system", content: [{ type: "text", text: "You are a helpful assistant." }] },
 *   { role: "user", content: [
 *     { type: "video_url", video_url: "https://example.com/video.mp4" },
 *     { type: "text", text: "List the notable events with approximate timestamps." },
 *   ] },
 * ]);
 * ```
 * @module
 */
import { z } from "zod";

const UrlRef = z.union([z.string().min(1), z.object({ url: z.string().min(1) }).passthrough()]);

export const TextPart = z.object({ type: z.literal("text"), text: z.string() }).strict();
export const ImageUrlPart = z.object({ type: z.literal("image_url"), image_url: UrlRef }).strict();
export const VideoUrlPart = z.object({ type: z.literal("video_url"), video_url: UrlRef }).strict();
export const ContentPart = z.discriminatedUnion("type", [TextPart, ImageUrlPart, VideoUrlPart]);
export type ContentPart = z.infer<typeof ContentPart>;

export const ChatRole = z.enum(["system", "user", "assistant"]);
export type ChatRole = z.infer<typeof ChatRole>;

export const ChatMessage = z.object({
  role: ChatRole,
  content: z.union([z.string(), z.array(ContentPart).min(1)]),
}).strict().superRefine((m, ctx) => {
  if (m.role !== "user" && Array.isArray(m.content) && m.content.some((p) => p.type !== "text")) {
    ctx.addIssue({
      code: "custom",
      path: ["content"],
      message: `${m.role} messages carry text only`,
      params: { allowed: "images and videos in user messages" },
    });
  }
});
export type ChatMessage = z.infer<typeof ChatMessage>;

export const ChatMessages = z.array(ChatMessage).min(1);
export type ChatMessages = z.infer<typeof ChatMessages>;

/** The default system prompt of the seed's examples. */
export const DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant.";

/** The URL string of an image_url / video_url value in either form. */
export function urlOf(ref: z.infer<typeof UrlRef>): string {
  return typeof ref === "string" ? ref : ref.url;
}
