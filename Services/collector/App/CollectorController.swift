import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ProfileModel
import ServiceKit

/// The tracking endpoints: Segment's HTTP Tracking API under `/v1`, and the spec's own under `/api/track`.
struct CollectorController: Sendable {
    enum Shape: Sendable, Equatable {
        case single(type: String)
        case batch
        case pageView
        case interaction
        case chat
    }

    let config: CollectorConfig
    let sites: SiteDirectory
    let batcher: EventBatcher
    let store: EventStore
    let addresses: ClientAddressResolver
    let keyLimiter: RateLimiter
    let ipLimiter: RateLimiter
    /// Messages per site and visitor on `/api/track/chat`.
    let chatLimiter: RateLimiter
    let metrics: ServiceMetrics

    /// Segment has no count limit; ours bounds the work one request can cause.
    static let maxEventsPerRequest = 5000

    func addRoutes(to router: Router<ServiceRequestContext>) {
        var routes: [(String, Shape)] = ["track", "page", "screen", "identify", "alias", "group"].map { ("/v1/\($0)", .single(type: $0)) }
        routes += [("/v1/batch", .batch), ("/v1/import", .batch),
                   ("/api/track/page-view", .pageView), ("/api/track/interaction", .interaction), ("/api/track/chat", .chat)]
        for (path, shape) in routes {
            router.post(RouterPath(path)) { request, context in try await handle(request, context: context, shape: shape) }
        }
        router.post("/api/track/opt-out") { request, context in try await optOut(request, context: context, optedOut: true) }
        router.post("/api/track/opt-in") { request, context in try await optOut(request, context: context, optedOut: false) }
        for path in routes.map(\.0) + ["/api/track/opt-out", "/api/track/opt-in"] {
            router.on(RouterPath(path), method: .options) { request, _ in
                Response(status: .noContent, headers: CORSHeaders.preflight(origin: request.headers[CORSHeaders.origin]))
            }
        }
    }

    // MARK: - Events

    func handle(_ request: Request, context: ServiceRequestContext, shape: Shape) async throws -> Response {
        let receivedAt = Date()
        let clientIP = addresses.resolve(peer: context.remoteAddress, headers: request.headers)
        if let wait = ipLimiter.take(AddressRateLimitKey.of(clientIP)) {
            count("rejected_rate_limited_ip")
            throw rateLimited(wait, "too many requests from this address")
        }
        let body = try await TrackingBody.read(request, limit: isSingle(shape) ? CollectorConfig.maxEventBytes : CollectorConfig.maxBatchBytes)
        let (authenticated, cors) = try await authorize(request, body: body, logger: context.logger)
        let site = authenticated.site
        do {
            let facts = RequestFacts(
                site: site, serverKey: authenticated.serverKey, receivedAt: receivedAt, clientIP: clientIP, userAgent: request.headers[.userAgent],
                doNotTrack: request.headers[Self.dnt] == "1", globalPrivacyControl: request.headers[Self.gpc] == "1")
            let (items, forcedType, defaults) = try items(of: body, shape: shape)
            guard !items.isEmpty else { throw APIError.badRequest("missing_field", "the batch contains no events", field: "batch") }
            guard items.count <= Self.maxEventsPerRequest else {
                throw APIError(.contentTooLarge, code: "too_many_events", detail: "at most \(Self.maxEventsPerRequest) events per request", field: "batch")
            }
            if shape == .chat, let visitor = body["anonymousId"]?.stringValue ?? body["userId"]?.stringValue,
               let wait = chatLimiter.take("\(site.id):\(visitor)", cost: Double(items.count)) {
                count("rejected_rate_limited_chat", by: items.count)
                throw rateLimited(wait, "this visitor is sending more chat messages than the per-visitor limit")
            }
            if let wait = keyLimiter.take(site.slug, cost: Double(items.count)) {
                count("rejected_rate_limited_key", by: items.count)
                throw rateLimited(wait, "this write key is sending more events than its rate limit")
            }
            let parser = SegmentEventParser(facts: facts)
            // A compressed body's length says nothing about its events' sizes: check them all.
            let checkEventSize = request.headers[.contentEncoding] != nil
                || (request.headers[.contentLength].flatMap(Int.init) ?? Int.max) > CollectorConfig.maxEventBytes
            let parsed: [ParsedEvent] = items.map { item in
                switch item {
                case .failure(let rejection): return .rejected(rejection, messageID: nil)
                case .success(let value):
                    if checkEventSize, Self.encodedSize(value) > CollectorConfig.maxEventBytes {
                        return .rejected(EventRejection(status: .contentTooLarge, code: "event_too_large", field: nil,
                                                        detail: "an event is limited to 32 KB"), messageID: value["messageId"]?.stringValue)
                    }
                    return parser.parse(value, forcedType: forcedType, defaults: defaults)
                }
            }
            let response = try await commit(parsed, single: isSingle(shape))
            var http = JSONResponse.make(response)
            http.headers.append(contentsOf: cors)
            return http
        } catch var error as APIError {
            error.headers.append(contentsOf: cors)
            throw error
        }
    }

    private func isSingle(_ shape: Shape) -> Bool {
        if case .single = shape { return true }
        return false
    }

    /// Finds the site of the write key and checks the browser origin against it.
    private func authorize(_ request: Request, body: [String: JSONValue], logger: Logger) async throws -> (SiteDirectory.Authenticated, HTTPFields) {
        guard let key = TrackingBody.writeKey(request, body: body) else {
            count("rejected_unauthorized")
            throw APIError(.unauthorized, code: "missing_write_key",
                           detail: "send the site's write key as the HTTP Basic user name, the X-Write-Key header or 'writeKey' in the body",
                           field: "writeKey")
        }
        let authenticated: SiteDirectory.Authenticated?
        do {
            authenticated = try await sites.site(writeKey: key, logger: logger)
        } catch {
            throw APIError.unavailable("the database is unavailable; retry later")
        }
        guard let authenticated else {
            count("rejected_unauthorized")
            throw APIError(.unauthorized, code: "unknown_write_key", detail: "the write key is not known", field: "writeKey")
        }
        let site = authenticated.site
        guard let origin = request.headers[CORSHeaders.origin] else { return (authenticated, [:]) }
        // A server key vouches for identities: in a page, any visitor could read it and vouch for anyone.
        guard !authenticated.serverKey else {
            count("rejected_server_key_in_browser")
            throw APIError(.forbidden, code: "server_key_in_browser",
                           detail: "a server key is secret and must not be sent from a browser; use the site's write key there (and rotate this server key)",
                           field: "writeKey", headers: [.accessControlAllowOrigin: "*"])
        }
        guard site.allows(origin: origin) else {
            count("rejected_forbidden_origin")
            // Readable by the page, so the tracker sees a final 403 instead of retrying a "network error".
            throw APIError(.forbidden, code: "origin_not_allowed", detail: "origin '\(origin.prefix(200))' is not allowed for this site",
                           field: "Origin", headers: [.accessControlAllowOrigin: "*"])
        }
        return (authenticated, CORSHeaders.allow(origin: origin))
    }

    private func items(of body: [String: JSONValue], shape: Shape) throws -> ([Result<JSONValue, EventRejection>], String?, BatchDefaults) {
        switch shape {
        case .single(let type):
            return ([.success(.object(body))], type, BatchDefaults())
        case .batch:
            guard let batch = body["batch"] else { throw EventRejection.missing("batch").apiError }
            guard let list = batch.arrayValue else { throw EventRejection.wrongType("batch", expected: "an array").apiError }
            var defaults = BatchDefaults()
            if let context = body["context"] {
                guard let object = context.objectValue else { throw EventRejection.wrongType("context", expected: "a JSON object").apiError }
                defaults.context = object
            }
            defaults.integrations = body["integrations"]?.objectValue ?? [:]
            if let sentAt = body["sentAt"] {
                guard let text = sentAt.stringValue, let date = SegmentEventParser.parseTimestamp(text) else {
                    throw EventRejection.invalid("sentAt", "'sentAt' is not an ISO-8601 timestamp").apiError
                }
                defaults.sentAt = date
            }
            return (list.map { .success($0) }, nil, defaults)
        case .pageView:
            return (try SpecEventTranslator.items(body).map(SpecEventTranslator.pageView), "page", BatchDefaults())
        case .interaction:
            return (try SpecEventTranslator.items(body).map(SpecEventTranslator.interaction), "interaction", BatchDefaults())
        case .chat:
            return (try SpecEventTranslator.chat(body), "chat", BatchDefaults())
        }
    }

    /// Writes the accepted events and builds the answer: counts per outcome and each rejection.
    private func commit(_ parsed: [ParsedEvent], single: Bool) async throws -> JSONValue {
        var accepted: [PreparedEvent] = []
        var rejected: [JSONValue] = []
        var dropped: [String: Int] = [:]
        var firstRejection: EventRejection?
        for (index, event) in parsed.enumerated() {
            switch event {
            case .accepted(let prepared):
                accepted.append(prepared)
                if prepared.userHashRefused { count("identity_hash_refused") }
            case .dropped(let reason, _):
                dropped[reason.rawValue, default: 0] += 1
                count("dropped_\(reason.rawValue)")
            case .rejected(let rejection, let messageID):
                firstRejection = firstRejection ?? rejection
                rejected.append(rejection.json(index: index, messageID: messageID))
                count("rejected_\(rejection.code)")
            }
        }
        // Nothing usable: answer with the (first) problem's own status.
        if let firstRejection, accepted.isEmpty, dropped.isEmpty {
            var error = firstRejection.apiError
            if !single { error.extra["rejected"] = .array(rejected) }
            throw error
        }
        var stored = 0
        var duplicates = 0
        switch await batcher.submit(accepted) {
        case .success(let outcomes):
            for outcome in outcomes {
                switch outcome {
                case .stored: stored += 1
                case .duplicate: duplicates += 1
                case .optedOut: dropped[DropReason.optedOut.rawValue, default: 0] += 1
                case .erased: dropped[DropReason.erased.rawValue, default: 0] += 1
                }
                count(outcome == .stored ? "stored" : outcome == .duplicate ? "duplicate" : "dropped_\(outcome.rawValue)")
            }
        case .failure(let error):
            count("failed_unavailable", by: accepted.count)
            if let apiError = error as? APIError { throw apiError }
            let failure = DatabaseFailure(error)
            if failure == .unavailable || failure == .timedOut || error is TimeoutError {
                throw APIError.unavailable("the events could not be committed because the database is unavailable; retry later (nothing was acknowledged)")
            }
            throw error
        }
        var answer: [String: JSONValue] = [
            "success": true,
            "received": .number(Double(parsed.count)),
            "stored": .number(Double(stored)),
            "duplicates": .number(Double(duplicates)),
            "dropped": .object(dropped.mapValues { .number(Double($0)) }),
        ]
        if !rejected.isEmpty { answer["rejected"] = .array(rejected) }
        return .object(answer)
    }

    // MARK: - Opt-out

    func optOut(_ request: Request, context: ServiceRequestContext, optedOut: Bool) async throws -> Response {
        let body = try await TrackingBody.read(request, limit: CollectorConfig.maxEventBytes)
        let (authenticated, cors) = try await authorize(request, body: body, logger: context.logger)
        let site = authenticated.site
        guard let anonymousID = body["anonymousId"]?.stringValue, !anonymousID.isEmpty, anonymousID.count <= SegmentEventParser.maxIDLength,
              !anonymousID.utf8.contains(0) else {
            var error = EventRejection.missing("anonymousId").apiError
            error.headers.append(contentsOf: cors)
            throw error
        }
        var answer: [String: JSONValue] = ["success": true, "optedOut": .bool(optedOut)]
        if optedOut {
            if let token = try await store.optOut(siteID: site.id, anonymousID: anonymousID, logger: context.logger) {
                answer["optInToken"] = .string(token)
            }
        } else {
            let token = body["optInToken"]?.stringValue
            guard try await store.optIn(siteID: site.id, anonymousID: anonymousID, token: token, serverKey: authenticated.serverKey,
                                        logger: context.logger) else {
                count("rejected_opt_in_without_token")
                var error = APIError(.forbidden, code: "opt_in_not_allowed",
                                     detail: "opting back in needs the optInToken the opt-out answered with (or the site's server key)", field: "optInToken")
                error.headers.append(contentsOf: cors)
                throw error
            }
        }
        var response = JSONResponse.make(.object(answer))
        response.headers.append(contentsOf: cors)
        return response
    }

    // MARK: - Helpers

    static let dnt = HTTPField.Name("DNT")!
    static let gpc = HTTPField.Name("Sec-GPC")!

    private func rateLimited(_ seconds: Int, _ detail: String) -> APIError {
        var headers = HTTPFields()
        headers[.retryAfter] = String(seconds)
        return APIError(.tooManyRequests, code: "rate_limited", detail: "\(detail); retry after \(seconds) s", headers: headers)
    }

    private func count(_ outcome: String, by amount: Int = 1) {
        metrics.counter("collector_events_total", labels: [("outcome", outcome)], help: "Events by outcome").increment(by: Int64(amount))
    }

    static func encodedSize(_ value: JSONValue) -> Int {
        value.jsonBytes.count
    }
}
