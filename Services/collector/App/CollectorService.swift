import Hummingbird
import ServiceKit

/// The collector: receives events over HTTP and commits them to Postgres before answering.
public enum CollectorService: ServiceEntry {
    public static let name = "collector"
    public static let abstract = "Receives tracking events and chat messages and commits them to Postgres."

    public static func buildApplication(_ environment: ServiceEnvironment) throws -> some ApplicationProtocol {
        let config = try CollectorConfig(environment: environment.reader)
        let client = environment.makeClient()
        let router = environment.makeRouter(client: client)
        let store = EventStore(client: client)
        let notifier = QueueNotifier(client: client, intervalMilliseconds: config.notifyIntervalMilliseconds, logger: environment.logger)
        let batcher = EventBatcher(store: store, notifier: notifier, config: config, metrics: environment.metrics, logger: environment.logger)
        CollectorController(
            config: config,
            sites: SiteDirectory(client: client, cacheSeconds: config.siteCacheSeconds),
            batcher: batcher, store: store,
            addresses: ClientAddressResolver(trustedProxies: config.trustedProxies),
            keyLimiter: RateLimiter(limit: config.rateLimitPerWriteKey),
            ipLimiter: RateLimiter(limit: config.rateLimitPerClientIP),
            chatLimiter: RateLimiter(limit: config.rateLimitChatPerVisitor),
            metrics: environment.metrics
        ).addRoutes(to: router)
        StaticFilesController(webDirectory: config.webDirectory, demoMode: config.demoMode).addRoutes(to: router)
        return environment.makeApplication(router: router, port: config.port, client: client, services: [notifier, batcher])
    }

    public static func serve(_ environment: ServiceEnvironment) async throws {
        try await buildApplication(environment).runService()
    }
}
