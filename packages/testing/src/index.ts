/**
 * @since 0.1.0
 */
export * as Chaos from "./Chaos.ts"

/**
 * @since 0.1.0
 */
export * as ConcurrencyProbe from "./ConcurrencyProbe.ts"

/**
 * @since 0.1.0
 */
export * as FaultServer from "./FaultServer.ts"

/**
 * @since 0.1.0
 */
export * as LeakCheck from "./LeakCheck.ts"

/**
 * @since 0.1.0
 */
export * as RedisServer from "./RedisServer.ts"

/**
 * @since 0.1.0
 */
export * as VirtualTime from "./VirtualTime.ts"
