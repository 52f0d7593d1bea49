/**
 * @since 0.1.0
 */
export * as Barrier from "./Barrier.ts"

/**
 * @since 0.1.0
 */
export * as Deadline from "./Deadline.ts"

/**
 * @since 0.1.0
 */
export * as Gather from "./Gather.ts"

/**
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.ts"

/**
 * @since 0.1.0
 */
export * as Options from "./Options.ts"

/**
 * @since 0.1.0
 */
export * as TaskGroup from "./TaskGroup.ts"
