import Prometheus

/// The Prometheus registry of one running service. Owned by the application (not a process global)
/// so that several applications in one test process keep separate figures.
public final class ServiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let service: String

    public init(service: String) {
        self.registry = PrometheusCollectorRegistry()
        self.service = service
    }

    public func counter(_ name: String, labels: [(String, String)] = [], help: String) -> Counter {
        registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
    }

    public func gauge(_ name: String, labels: [(String, String)] = [], help: String) -> Gauge {
        registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
    }

    /// Latency buckets from 1 ms to 10 s, the range our requests and commits live in.
    public static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2), .seconds(5), .seconds(10),
    ]

    public func latency(_ name: String, labels: [(String, String)] = [], help: String) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: Self.latencyBuckets)
    }

    public func values(_ name: String, buckets: [Double], labels: [(String, String)] = [], help: String) -> ValueHistogram {
        registry.makeValueHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
    }

    /// Names are given whole (`collector_events_total`), so the unit part stays empty.
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    public func exposition() -> String { registry.emitToString() }
}
