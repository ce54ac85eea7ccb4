import Hummingbird

/// Counts requests and records their latency by route pattern, method and status.
public struct RequestMetricsMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    let metrics: ServiceMetrics

    public init(metrics: ServiceMetrics) {
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        // The matched route pattern keeps label cardinality bounded (ids are not in it).
        let route = context.endpointPath ?? "unmatched"
        let labels = [("route", route), ("method", request.method.rawValue), ("status", String(response.status.code))]
        metrics.counter("http_requests_total", labels: labels, help: "HTTP requests answered").increment()
        metrics.latency("http_request_duration_seconds", labels: [("route", route)], help: "HTTP request latency")
            .record(ContinuousClock.now - start)
        return response
    }
}
