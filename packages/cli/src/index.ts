/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.ts"

/**
 * @since 0.1.0
 */
export * as Demo from "./Demo.ts"

/**
 * @since 0.1.0
 */
export * as Fetch from "./Fetch.ts"

/**
 * @since 0.1.0
 */
export * as Scan from "./Scan.ts"

/**
 * @since 0.1.0
 */
export * as Serve from "./Serve.ts"

/**
 * @since 0.1.0
 */
export * as Top from "./Top.ts"
