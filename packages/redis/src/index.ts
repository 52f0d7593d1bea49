/**
 * @since 0.1.0
 */
export * as RedisConnection from "./RedisConnection.ts"
