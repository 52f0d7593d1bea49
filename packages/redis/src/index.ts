/**
 * @since 0.1.0
 */
export * as DistributedLimiter from "./DistributedLimiter.ts"

/**
 * @since 0.1.0
 */
export * as RedisConnection from "./RedisConnection.ts"

/**
 * @since 0.1.0
 */
export * as RedisElection from "./RedisElection.ts"

/**
 * @since 0.1.0
 */
export * as DurableWorkerPool from "./DurableWorkerPool.ts"

/**
 * @since 0.1.0
 */
export * as SharedLimiter from "./SharedLimiter.ts"

/**
 * @since 0.1.0
 */
export * as FleetHttp from "./FleetHttp.ts"
