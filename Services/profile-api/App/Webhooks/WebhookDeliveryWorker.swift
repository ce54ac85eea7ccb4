import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import OutboundHTTP
import ServiceKit
import ServiceLifecycle

/// Sends the webhook outbox: claims due deliveries, POSTs each signed payload, and records
/// delivered / failed (retried with exponential backoff and jitter) / dead. It runs in the API
/// process, beside the export scheduler, so a slow receiver never holds back the engine's ingest;
/// any number of instances may run it (claims use SKIP LOCKED and leases). It sleeps until the
/// `NotificationListener` on `WebhookConfig.channel` rings `signal` or the poll interval passes.
struct WebhookDeliveryWorker: Service {
    let store: WebhookStore
    let config: WebhookConfig
    let signal: WakeSignal
    let http: OutboundHTTPClient
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var sent = 0
                do {
                    sent = try await deliverBatch()
                } catch is CancellationError {
                    return
                } catch {
                    logger.databaseFailure(.warning, "webhook worker could not claim deliveries", error: error)
                }
                // A full batch means more may be due: go again at once.
                if sent < config.concurrency { await signal.wait(upTo: .seconds(config.pollSeconds)) }
            }
        }
    }

    /// Claims and sends one batch concurrently; returns how many were claimed.
    func deliverBatch() async throws -> Int {
        let batch = try await store.claim(limit: config.concurrency, leaseSeconds: config.timeoutSeconds + 30)
        await withTaskGroup(of: Void.self) { group in
            for delivery in batch {
                group.addTask { await deliver(delivery) }
            }
        }
        return batch.count
    }

    private func deliver(_ delivery: WebhookStore.Claimed) async {
        var statusCode: Int?
        var failure: String?
        do {
            let body = ByteBuffer(string: delivery.payload)
            var request = HTTPClientRequest(url: delivery.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "ProfileBuilder-Webhooks/1")
            request.headers.add(name: "X-Profile-Builder-Delivery", value: String(delivery.id))
            request.headers.add(name: "X-Profile-Builder-Event", value: "profile.\(delivery.eventKind)")
            request.headers.add(name: "X-Profile-Builder-Attempt", value: String(delivery.attempts))
            request.headers.add(name: WebhookSignature.header,
                                value: WebhookSignature.sign(body: Data(delivery.payload.utf8), secret: delivery.secret, timestamp: Int(Date().timeIntervalSince1970)))
            request.body = .bytes(body)
            let response = try await http.execute(request, timeout: .milliseconds(Int64(config.timeoutSeconds * 1000)))
            statusCode = Int(response.status.code)
            // Read (a little of) the answer so the connection can be reused; its content is ignored.
            _ = try? await response.body.collect(upTo: 64 * 1024)
            if !(200..<300).contains(Int(response.status.code)) { failure = "HTTP \(response.status.code)" }
        } catch {
            failure = String(String(describing: error).prefix(500))
        }
        let retryIn: Double? = failure == nil || delivery.attempts >= config.maxAttempts ? nil : config.backoff(afterAttempts: delivery.attempts)
        do {
            try await store.finish(delivery, statusCode: statusCode, error: failure, retryIn: retryIn)
        } catch {
            // The lease expires and the delivery is sent again: receivers dedupe on the payload id.
            logger.databaseFailure(.warning, "webhook outcome not recorded", error: error, metadata: ["delivery": "\(delivery.id)"])
        }
        if let failure {
            logger.info("webhook delivery failed", metadata: ["delivery": "\(delivery.id)", "attempt": "\(delivery.attempts)",
                                                              "error": "\(failure)", "dead": "\(retryIn == nil)"])
        }
    }
}
