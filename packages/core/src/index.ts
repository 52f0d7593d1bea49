/**
 * @since 0.1.0
 */
export * as Barrier from "./Barrier.ts"

/**
 * @since 0.1.0
 */
export * as Batcher from "./Batcher.ts"

/**
 * @since 0.1.0
 */
export * as Bulkhead from "./Bulkhead.ts"

/**
 * @since 0.1.0
 */
export * as Condition from "./Condition.ts"

/**
 * @since 0.1.0
 */
export * as Deadline from "./Deadline.ts"

/**
 * @since 0.1.0
 */
export * as Debounce from "./Debounce.ts"

/**
 * @since 0.1.0
 */
export * as Election from "./Election.ts"

/**
 * @since 0.1.0
 */
export * as Gather from "./Gather.ts"

/**
 * @since 0.1.0
 */
export * as Hedge from "./Hedge.ts"

/**
 * @since 0.1.0
 */
export * as InvalidOption from "./InvalidOption.ts"

/**
 * @since 0.1.0
 */
export * as KeyedMutex from "./KeyedMutex.ts"

/**
 * @since 0.1.0
 */
export * as KeyedLimiter from "./KeyedLimiter.ts"

/**
 * @since 0.1.0
 */
export * as Limiter from "./Limiter.ts"

/**
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.ts"

/**
 * @since 0.1.0
 */
export * as Mutex from "./Mutex.ts"

/**
 * @since 0.1.0
 */
export * as Registry from "./Registry.ts"

/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.ts"

/**
 * @since 0.1.0
 */
export * as RWLock from "./RWLock.ts"

/**
 * @since 0.1.0
 */
export * as TaskGroup from "./TaskGroup.ts"

/**
 * @since 0.1.0
 */
export * as Throttle from "./Throttle.ts"

/**
 * @since 0.1.0
 */
export * as WorkQueue from "./WorkQueue.ts"

/**
 * @since 0.1.0
 */
export * as WorkerPool from "./WorkerPool.ts"
