import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// Resolves each event to its profile, creating profiles for new visitors and merging profiles
/// that turn out to be the same person (identify, alias, a shared email). The loser of a merge is
/// kept as a pointer (`merged_into`) so its old ids still resolve. Two profiles that each have
/// their own user id are never merged (a shared computer, not one person).
///
/// Workers never wait for each other here: an identity that events of other shards can name too
/// (a user id, an email, an alias's previous id) is created only under a try-lock on it, and the
/// profiles to update are locked with SKIP LOCKED. A visitor whose identity or profile another
/// worker holds right now is deferred to the next batch (all its events of this batch, so its
/// order is kept) instead of blocking on that worker's commit and then failing on its insert.
struct IdentityResolver: Sendable {
    /// Key space of the identity-creation try-locks (`pg_try_advisory_xact_lock(lockSpace, hash)`).
    static let lockSpace: Int32 = 0x5049
    let registry: FieldRegistry
    let logger: Logger

    struct Resolution: Sendable {
        var profileOfEvent: [Int64: UUID] = [:]
        var created: Set<UUID> = []
        var merges: [(loser: UUID, winner: UUID)] = []
        /// Events left for a later batch because another worker holds one of their identities or profiles.
        var deferred: Set<Int64> = []
    }

    private struct Known {
        var createdAt: Date
        var userIDs: Set<String>
    }

    func resolve(_ events: [StoredEvent], on tx: PostgresConnection) async throws -> Resolution {
        let keysOfEvent = Dictionary(uniqueKeysWithValues: events.map { ($0.id, IdentityKey.keys(of: $0, registry: registry)) })
        let allKeys = Set(keysOfEvent.values.flatMap { $0 })
        var owner = try await existingOwners(Array(allKeys), on: tx)
        let shared = Set(events.flatMap { event in
            (keysOfEvent[event.id] ?? []).filter { owner[$0] == nil && !$0.isShardKey(of: event) }
        })
        let (claimed, busyKeys) = try await claimNewIdentities(shared, on: tx)
        // Created and committed by another worker between our read and our lock.
        if !claimed.isEmpty { owner.merge(try await existingOwners(Array(claimed), on: tx)) { $1 } }
        var (known, busyProfiles) = try await lockProfiles(Set(owner.values), on: tx)
        var resolution = Resolution()
        let busyVisitors = Set(events.filter { event in
            (keysOfEvent[event.id] ?? []).contains { busyKeys.contains($0) || owner[$0].map(busyProfiles.contains) == true }
        }.map(\.visitorKey))
        var newIdentities: [IdentityKey: UUID] = [:]
        var siteOfNew: [UUID: (Int64, Date)] = [:]

        for event in events {
            guard !busyVisitors.contains(event.visitorKey) else {
                resolution.deferred.insert(event.id)
                continue
            }
            let keys = keysOfEvent[event.id] ?? []
            var owners: [UUID] = []
            for key in keys { if let id = owner[key], !owners.contains(id) { owners.append(id) } }
            // A profile that already has another user id is someone else (a shared computer): the
            // event's user gets a profile of their own and the anonymous id stays where it is.
            let compatible = owners.filter { id in
                guard let user = event.userID, let users = known[id]?.userIDs, !users.isEmpty else { return true }
                return users.contains(user)
            }
            let target: UUID
            if compatible.isEmpty {
                target = UUID()
                resolution.created.insert(target)
                siteOfNew[target] = (event.siteID, event.occurredAt)
                known[target] = Known(createdAt: Date(), userIDs: [])
            } else {
                // Oldest profile wins; profiles with different user ids stay apart.
                let ordered = compatible.sorted { (known[$0]?.createdAt ?? .distantFuture, $0.uuidString) < (known[$1]?.createdAt ?? .distantFuture, $1.uuidString) }
                var winner = ordered[0]
                if let user = event.userID, let userOwner = owner[IdentityKey(siteID: event.siteID, kind: .userID, value: user)] {
                    winner = userOwner
                }
                for loser in ordered where loser != winner {
                    let winnerUsers = known[winner]?.userIDs ?? []
                    let loserUsers = known[loser]?.userIDs ?? []
                    if !winnerUsers.isEmpty && !loserUsers.isEmpty && winnerUsers.isDisjoint(with: loserUsers) { continue }
                    resolution.merges.append((loser, winner))
                    known[winner]?.userIDs.formUnion(loserUsers)
                    for (key, id) in owner where id == loser { owner[key] = winner }
                    for (key, id) in newIdentities where id == loser { newIdentities[key] = winner }
                    for (eventID, id) in resolution.profileOfEvent where id == loser { resolution.profileOfEvent[eventID] = winner }
                    if resolution.created.remove(loser) != nil { siteOfNew[loser] = nil }
                }
                target = winner
            }
            for key in keys where owner[key] == nil {
                // An anonymous id already owned by another profile (with another user) stays where it is.
                owner[key] = target
                newIdentities[key] = target
                if key.kind == .userID { known[target, default: Known(createdAt: Date(), userIDs: [])].userIDs.insert(key.value) }
            }
            resolution.profileOfEvent[event.id] = target
        }

        try await insertProfiles(siteOfNew, on: tx)
        try await insertIdentities(newIdentities, on: tx)
        for merge in resolution.merges where !resolution.created.contains(merge.loser) {
            try await ProfileMerger(registry: registry, logger: logger).merge(loser: merge.loser, into: merge.winner, on: tx)
        }
        return resolution
    }

    /// Named query `owners_of_identities`.
    private func existingOwners(_ keys: [IdentityKey], on tx: PostgresConnection) async throws -> [IdentityKey: UUID] {
        guard !keys.isEmpty else { return [:] }
        let rows = try await tx.query(
            """
            SELECT pi.site_id, pi.kind, pi.value, pi.profile_id
            FROM jsonb_to_recordset(\(JSONValue.array(keys.map(\.row)).jsonText)::jsonb) AS k(site_id bigint, kind text, value text)
            JOIN profile_identities pi USING (site_id, kind, value)
            """, logger: logger)
        var owners: [IdentityKey: UUID] = [:]
        for try await (site, kind, value, profile) in rows.decode((Int64, String, String, UUID).self) {
            guard let kind = IdentityKey.Kind(rawValue: kind) else { continue }
            owners[IdentityKey(siteID: site, kind: kind, value: value)] = profile
        }
        return owners
    }

    /// Named query `claim_new_identities`: try-locks the identities this batch would create and
    /// that another worker's events could create too. Returns the keys locked and the keys busy.
    private func claimNewIdentities(_ keys: Set<IdentityKey>, on tx: PostgresConnection) async throws -> (claimed: Set<IdentityKey>, busy: Set<IdentityKey>) {
        guard !keys.isEmpty else { return ([], []) }
        let ordered = keys.sorted { ($0.siteID, $0.kind.rawValue, $0.value) < ($1.siteID, $1.kind.rawValue, $1.value) }
        let rows = try await tx.query(
            """
            SELECT k.n FROM unnest(\(ordered.map(\.lockText))::text[]) WITH ORDINALITY AS k(key, n)
            WHERE pg_try_advisory_xact_lock(\(Self.lockSpace), hashtext(k.key))
            """, logger: logger)
        var claimed = Set<IdentityKey>()
        for try await n in rows.decode(Int64.self) { claimed.insert(ordered[Int(n) - 1]) }
        return (claimed, keys.subtracting(claimed))
    }

    /// Named query `lock_profiles`: SKIP LOCKED, so a profile another worker (or an API write) is
    /// changing right now is reported busy instead of waited for; so is one merged away since we
    /// read its identities.
    private func lockProfiles(_ ids: Set<UUID>, on tx: PostgresConnection) async throws -> (known: [UUID: Known], busy: Set<UUID>) {
        guard !ids.isEmpty else { return ([:], []) }
        let rows = try await tx.query(
            """
            SELECT p.id, p.created_at, p.merged_into IS NOT NULL,
                   coalesce((SELECT array_agg(pi.value) FROM profile_identities pi WHERE pi.profile_id = p.id AND pi.kind = 'user_id'), '{}')
            FROM visitor_profiles p WHERE p.id = ANY(\(Array(ids))) ORDER BY p.id FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var known: [UUID: Known] = [:]
        for try await (id, createdAt, merged, users) in rows.decode((UUID, Date, Bool, [String]).self) where !merged {
            known[id] = Known(createdAt: createdAt, userIDs: Set(users))
        }
        return (known, ids.subtracting(known.keys))
    }

    private func insertProfiles(_ profiles: [UUID: (Int64, Date)], on tx: PostgresConnection) async throws {
        guard !profiles.isEmpty else { return }
        let ids = Array(profiles.keys)
        let sites = ids.map { profiles[$0]!.0 }
        try await tx.query(
            """
            INSERT INTO visitor_profiles (id, site_id)
            SELECT * FROM unnest(\(ids)::uuid[], \(sites)::bigint[])
            """, logger: logger)
    }

    /// A concurrent worker creating the same identity makes this fail with a unique violation;
    /// the batch is then retried and finds the other worker's profile.
    private func insertIdentities(_ identities: [IdentityKey: UUID], on tx: PostgresConnection) async throws {
        guard !identities.isEmpty else { return }
        let keys = Array(identities.keys)
        try await tx.query(
            """
            INSERT INTO profile_identities (site_id, kind, value, profile_id)
            SELECT * FROM unnest(\(keys.map(\.siteID))::bigint[], \(keys.map(\.kind.rawValue))::text[],
                                 \(keys.map(\.value))::text[], \(keys.map { identities[$0]! })::uuid[])
            """, logger: logger)
    }
}
