import Crypto
import Foundation
import ProfileModel

/// One way a visitor is known on a site: an anonymous id, a user id or an email.
struct IdentityKey: Hashable, Sendable {
    typealias Kind = IdentityKind

    let siteID: Int64
    let kind: Kind
    let value: String

    /// The text hashed for this identity's creation lock (see `IdentityResolver`).
    var lockText: String { "\(siteID):\(kind.rawValue):\(value)" }

    /// True if this is the key `event` is sharded by: only the worker holding that shard can create it.
    func isShardKey(of event: StoredEvent) -> Bool {
        guard siteID == event.siteID, let visitor = event.visitor, value == visitor.value else { return false }
        return kind == (visitor.source == .userID ? .userID : .anonymousID)
    }

    var row: JSONValue {
        ["site_id": .number(Double(siteID)), "kind": .string(kind.rawValue), "value": .string(value)]
    }

    /// The identities an event names. An alias's previousId is usually the anonymous id it
    /// replaces; `identify` traits may carry an email, which links devices of the same person.
    static func keys(of event: StoredEvent, registry: FieldRegistry) -> [IdentityKey] {
        var keys: [IdentityKey] = []
        if let anonymous = event.anonymousID { keys.append(IdentityKey(siteID: event.siteID, kind: .anonymousID, value: anonymous)) }
        if let user = event.userID { keys.append(IdentityKey(siteID: event.siteID, kind: .userID, value: user)) }
        if event.type == "alias", let previous = event.previousID {
            keys.append(IdentityKey(siteID: event.siteID, kind: .anonymousID, value: previous))
        }
        if event.type == "identify", let raw = event.traits["email"], let definition = registry["email"],
           case .success(let email) = definition.normalize(raw), let text = email.stringValue {
            keys.append(IdentityKey(siteID: event.siteID, kind: .email, value: text))
        }
        return keys
    }
}
