/**
 * Replaces the password of a connection URL with `***`, so URLs can appear in messages.
 * Strings that are not URLs are returned with any `password=...` pair masked.
 */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return url.replace(/(password\s*=\s*)(\S+)/gi, "$1***")
  }
}
