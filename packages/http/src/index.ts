/**
 * @since 0.1.0
 */
export * as FetchAll from "./FetchAll.ts"

/**
 * @since 0.1.0
 */
export * as HttpResilience from "./HttpResilience.ts"

/**
 * @since 0.1.0
 */
export * as HttpResilienceError from "./HttpResilienceError.ts"

/**
 * @since 0.1.0
 */
export * as ServerKit from "./ServerKit.ts"

/**
 * @since 0.1.0
 */
export * as Transfer from "./Transfer.ts"
