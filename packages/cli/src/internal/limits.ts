/**
 * Upper bounds of `fetch`'s flags, shared by the flag descriptions and the checks.
 *
 * @internal
 */

/** The largest `--retries`: more would turn one dead URL into hours of waiting. @internal */
export const MAX_RETRIES = 100

/** The largest `--max-redirects` (aiohttp's default limit is 10, browsers stop at about 20). @internal */
export const MAX_REDIRECTS = 100
