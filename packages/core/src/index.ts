/**
 * @since 0.1.0
 */
export * as Options from "./Options.ts"
