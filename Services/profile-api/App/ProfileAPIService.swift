import ArgumentParser
import Hummingbird
import OutboundHTTP
import ServiceKit
import ServiceLifecycle

/// The profile API: what internal services use to read, search and manage profiles.
public enum ProfileAPIService: ServiceEntry {
    public static let name = "profile-api"
    public static let abstract = "Serves visitor profiles to internal services over an authenticated HTTP API."
    public static var extraCommands: [any ParsableCommand.Type] { [KeysCommand.self, CatalogCommand.self, ReportCommand.self, DashboardCommand.self] }

    public static func buildApplication(_ environment: ServiceEnvironment) throws -> some ApplicationProtocol {
        let config = try APIConfig(environment: environment.reader)
        let client = environment.makeClient()
        let router = environment.makeRouter(client: client)
        let auth = Authenticator(keys: APIKeyStore(client: client, cacheSeconds: config.keyCacheSeconds), limiter: PerKeyRateLimiter())
        let profiles = ProfileRepository(client: client, registry: environment.fields, logger: environment.logger)
        // Requests that wrote a command for the engine wait for it on `commands_finished`.
        let completionSignal = WakeSignal()
        let completion = CommandCompletion(signal: completionSignal)
        let privacy = PrivacyService(client: client, completion: completion, logger: environment.logger)
        let commands = ProfileCommands(client: client, completion: completion, logger: environment.logger)
        try OpenAPIController(path: config.openAPIFile).addRoutes(to: router)
        ProfilesController(auth: auth, profiles: profiles, commands: commands, privacy: privacy, writeWaitSeconds: config.profileWriteWaitSeconds,
                           gdprWaitSeconds: config.gdprWaitSeconds).addRoutes(to: router)
        GDPRController(auth: auth, profiles: profiles, privacy: privacy, waitSeconds: config.gdprWaitSeconds).addRoutes(to: router)
        APIKeysController(auth: auth, client: client).addRoutes(to: router)
        IdentityController(auth: auth, store: IdentityStore(client: client)).addRoutes(to: router)
        SegmentsController(auth: auth, client: client).addRoutes(to: router)
        EmailController(auth: auth, profiles: profiles, client: client).addRoutes(to: router)
        CatalogController(auth: auth, client: client,
                          importer: CatalogImporter(logger: environment.logger))
            .addRoutes(to: router)
        PersonalizationController(auth: auth, profiles: profiles, context: PersonalizationContext(registry: environment.fields, holdoutPercent: config.holdoutPercent),
                                  client: client).addRoutes(to: router)
        JourneysController(auth: auth, queries: JourneyQueries(client: client, logger: environment.logger)).addRoutes(to: router)
        let reports = Reports(client: client, logger: environment.logger)
        ReportsController(auth: auth, reports: reports).addRoutes(to: router)
        DashboardController(auth: auth, reports: reports,
                            session: DashboardSession(secret: config.dashboardSecret, minutes: config.dashboardSessionMinutes,
                                                      secure: config.dashboardCookieSecure, admin: config.dashboardAdmin),
                            admin: config.dashboardAdmin,
                            throttle: SignInThrottle(failures: config.dashboardSignInFailures, refillSeconds: config.dashboardSignInFailureSeconds),
                            assetsDirectory: config.dashboardAssetsDirectory).addRoutes(to: router)

        // Webhook and export destinations are chosen by API users: only public addresses (SSRF).
        let outboundPolicy = try OutboundPolicy(environment: environment.reader)
        let exportConfig = try ExportConfig(environment: environment.reader)
        let catalog = try CRMMappingCatalog.load(directory: exportConfig.mappingsDirectory)
        let exporter = ProfileExporter(profiles: profiles, pageSize: exportConfig.pageSize)
        let exportJobs = ExportJobStore(client: client, logger: environment.logger)
        ExportsController(auth: auth, exporter: exporter, jobs: exportJobs, catalog: catalog, outbound: outboundPolicy).addRoutes(to: router)
        let webhookConfig = try WebhookConfig(environment: environment.reader)
        let webhooks = WebhookStore(client: client, logger: environment.logger)
        WebhooksController(auth: auth, store: webhooks, outbound: outboundPolicy).addRoutes(to: router)

        let builtinSegments = try BuiltinSegments.load(path: config.segmentsFile)

        // Made after the last `try`: an HTTPClient must be shut down, which its service does.
        // First, so that it is shut down after the workers that use it.
        let outbound = OutboundHTTPClient(policy: outboundPolicy)
        var services: [any Service] = [outbound, CommandCompletion.listener(database: environment.common.database, signal: completionSignal,
                                                                            logger: environment.logger),
                                       BuiltinSegmentSync(builtins: builtinSegments, client: client, logger: environment.logger)]
        if exportConfig.schedulerEnabled {
            services.append(ExportScheduler(store: exportJobs, exporter: exporter, catalog: catalog, registry: environment.fields,
                                            config: exportConfig, http: outbound, logger: environment.logger))
        }
        if webhookConfig.workerEnabled {
            let signal = WakeSignal()
            services.append(NotificationListener(database: environment.common.database, channel: WebhookConfig.channel, signal: signal,
                                                 logger: environment.logger))
            services.append(WebhookDeliveryWorker(store: webhooks, config: webhookConfig, signal: signal, http: outbound,
                                                  logger: environment.logger))
        }
        return environment.makeApplication(router: router, port: config.port, client: client, services: services)
    }

    public static func serve(_ environment: ServiceEnvironment) async throws {
        try await buildApplication(environment).runService()
    }
}
