/**
 * @since 0.1.0
 */
export * as EventLoopMonitor from "./EventLoopMonitor.ts"

/**
 * @since 0.1.0
 */
export * as Health from "./Health.ts"

/**
 * @since 0.1.0
 */
export * as Introspection from "./Introspection.ts"

/**
 * @since 0.1.0
 */
export * as Main from "./Main.ts"

/**
 * @since 0.1.0
 */
export * as Offload from "./Offload.ts"

/**
 * @since 0.1.0
 */
export * as Periodic from "./Periodic.ts"

/**
 * @since 0.1.0
 */
export * as Prometheus from "./Prometheus.ts"

/**
 * @since 0.1.0
 */
export * as Shutdown from "./Shutdown.ts"

/**
 * @since 0.1.0
 */
export * as Supervisor from "./Supervisor.ts"
