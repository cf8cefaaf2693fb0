/**
 * A short rendering of a value from a request, for error messages. Request
 * bodies are the client's: JSON.stringify of a deeply nested value overflows the
 * stack, and a long one would be echoed back in full.
 */
const MAX_PREVIEW = 80;

export function jsonPreview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? '[…]' : typeof value === 'object' ? '{…}' : String(value);
  }
  return text.length > MAX_PREVIEW ? `${text.slice(0, MAX_PREVIEW)}…` : text;
}
