import Foundation
import ProfileModel

/// Where a stored field value came from, kept in `visitor_profiles.field_meta` so that conflicts
/// resolve the same way whatever order events arrive in.
struct FieldProvenance: Sendable, Equatable {
    let source: FieldSource
    let at: Date
    let eventID: Int64

    static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    init(source: FieldSource, at: Date, eventID: Int64) {
        self.source = source
        self.at = at
        self.eventID = eventID
    }

    init?(_ json: JSONValue?) {
        guard let object = json?.objectValue,
              let source = object["source"]?.stringValue.flatMap(FieldSource.init(rawValue:)),
              let at = object["at"]?.stringValue.flatMap({ try? Date($0, strategy: Self.timestampStyle) })
        else { return nil }
        self.init(source: source, at: at, eventID: Int64(object["event_id"]?.doubleValue ?? 0))
    }

    var json: JSONValue {
        ["source": .string(source.rawValue), "at": .string(at.formatted(Self.timestampStyle)), "event_id": .number(Double(eventID))]
    }

    /// Whether `candidate` replaces `current` under `rule`. Ties on time break on the event id, so
    /// the outcome never depends on arrival order.
    static func wins(_ candidate: FieldProvenance, over current: FieldProvenance?, rule: ConflictRule) -> Bool {
        guard let current else { return true }
        func later() -> Bool { (candidate.at, candidate.eventID) >= (current.at, current.eventID) }
        switch rule {
        case .lastWriteWins:
            return later()
        case .firstWriteWins:
            return (candidate.at, candidate.eventID) <= (current.at, current.eventID)
        case .sourcePriority:
            if candidate.source.priority != current.source.priority { return candidate.source.priority > current.source.priority }
            return later()
        }
    }
}
