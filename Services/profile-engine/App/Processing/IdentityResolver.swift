import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// Resolves each event to its profile, creating profiles for new visitors and merging profiles
/// that turn out to be the same person (identify, alias, a shared email). The loser of a merge is
/// kept as a pointer (`merged_into`) so its old ids still resolve.
///
/// Merges happen only on evidence the site trusts (docs/IDENTITY.md). An identifier is verified
/// when the site vouched for it (`StoredEvent.verifiedIdentifiers`), claimed otherwise. A claimed
/// identifier never joins, or pulls into the event's profile, a profile known by a verified one;
/// a claimed email links only profiles without a user id, and only where the site allows it; two
/// profiles that each have their own user id never merge (a shared computer, not one person). The
/// site's guardrails (`IdentityRules`) block placeholder values, bound identifiers per profile
/// and merges per profile, and rank the kinds that pick the survivor. What a rule refuses is not
/// lost: the event is applied to the profile it resolved to, and the refusal is recorded
/// (`identity_conflicts`).
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
    let rules: SiteIdentityRules
    let logger: Logger

    struct Resolution: Sendable {
        var profileOfEvent: [Int64: UUID] = [:]
        var created: Set<UUID> = []
        var merges: [(loser: UUID, winner: UUID)] = []
        /// Events left for a later batch because another worker holds one of their identities or profiles.
        var deferred: Set<Int64> = []
        /// Refusals by rule, for the metrics.
        var conflicts: [IdentityConflict.Rule: Int] = [:]
    }

    private struct Known {
        var createdAt: Date
        var userIDs: Set<String>
        /// Identities the site vouched for: a profile with any is a verified person.
        var verified: Set<IdentityKey>
        var identities: [IdentityKind: Int]
        var mergedProfiles: Int

        static func new() -> Known { Known(createdAt: Date(), userIDs: [], verified: [], identities: [:], mergedProfiles: 0) }
        var isVerifiedPerson: Bool { !verified.isEmpty }
    }

    func resolve(_ events: [StoredEvent], on tx: PostgresConnection) async throws -> Resolution {
        let rulesOfSite = try await rules.rules(for: Set(events.map(\.siteID)), on: tx, logger: logger)
        var conflicts = IdentityConflict.Recorder()
        var keysOfEvent: [Int64: [IdentityKey]] = [:]
        for event in events {
            let siteRules = rulesOfSite[event.siteID] ?? rules.defaults
            var keys: [IdentityKey] = []
            for key in IdentityKey.keys(of: event, registry: registry) where !keys.contains(key) {
                if siteRules.isBlocked(key.value) {
                    conflicts.add(.blockedValue, key, event: event)
                } else {
                    keys.append(key)
                }
            }
            keysOfEvent[event.id] = keys
        }
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
        var newlyVerified: [IdentityKey: UUID] = [:]
        var siteOfNew: [UUID: (Int64, Date)] = [:]
        /// Profiles merged away in this batch, to their survivor.
        var survivor: [UUID: UUID] = [:]

        for event in events {
            guard !busyVisitors.contains(event.visitorKey) else {
                resolution.deferred.insert(event.id)
                continue
            }
            let siteRules = rulesOfSite[event.siteID] ?? rules.defaults
            let keys = keysOfEvent[event.id] ?? []
            guard !keys.isEmpty else { continue }  // every identifier blocked: kept in events, recorded, not applied
            func verified(_ key: IdentityKey) -> Bool { event.verifiedIdentifiers.contains(key.kind) }
            let device = event.anonymousID.map { IdentityKey(siteID: event.siteID, kind: .anonymousID, value: $0) }
            let deviceProfile = device.flatMap { keys.contains($0) ? owner[$0] : nil }
            // A profile this event's verified identifiers belong to: the event is that person's.
            let provenProfiles = Set(keys.filter(verified).compactMap { owner[$0] })

            // Which profiles the event may resolve to, or pull together, and which identifiers it
            // may not take from their holders.
            var owners: [UUID] = []
            var kept: Set<IdentityKey> = []  // held by a profile the event may not join: left there
            var transfers: [IdentityKey] = []  // verified here, claimed by a profile that is not merged: moves to the event's profile
            for key in keys {
                guard let holder = owner[key] else { continue }
                if holder == deviceProfile || provenProfiles.contains(holder) {
                    if !owners.contains(holder) { owners.append(holder) }
                    continue
                }
                let holderFacts = known[holder] ?? .new()
                let deviceFacts = deviceProfile.flatMap { known[$0] }
                var refusal: IdentityConflict.Rule?
                if holderFacts.isVerifiedPerson {
                    refusal = .claimedIdentifierOfVerifiedPerson
                } else if verified(key) {
                    if key.kind != .userID { refusal = .claimedProfileNotMerged }  // a claimed user id is the site's own: upgraded
                } else if deviceFacts?.isVerifiedPerson == true {
                    refusal = .claimedLinkIntoVerifiedPerson
                } else if key.kind == .email {
                    if !siteRules.linkClaimedEmails {
                        refusal = .claimedEmailLinksDisabled
                    } else if !holderFacts.userIDs.isEmpty {
                        refusal = .claimedEmailOfKnownUser
                    }
                }
                if let refusal {
                    conflicts.add(refusal, key, event: event, other: holder)
                    if refusal == .claimedProfileNotMerged { transfers.append(key) } else { kept.insert(key) }
                } else if !owners.contains(holder) {
                    owners.append(holder)
                }
            }
            // A profile that already has another user id is someone else (a shared computer): the
            // event's user gets a profile of their own and the anonymous id stays where it is.
            let compatible = owners.filter { id in
                guard let user = event.userID, let users = known[id]?.userIDs, !users.isEmpty else { return true }
                if users.contains(user) { return true }
                conflicts.add(.conflictingUserIDs, IdentityKey(siteID: event.siteID, kind: .userID, value: user), event: event, other: id)
                return false
            }
            let target: UUID
            if compatible.isEmpty {
                target = UUID()
                resolution.created.insert(target)
                siteOfNew[target] = (event.siteID, event.occurredAt)
                known[target] = .new()
            } else {
                // The profile named by the highest-ranked kind survives; then the oldest.
                func rank(_ id: UUID) -> Int {
                    keys.filter { owner[$0] == id }.map { siteRules.rank($0.kind) }.min() ?? Int.max
                }
                let ordered = compatible.sorted {
                    (rank($0), known[$0]?.createdAt ?? .distantFuture, $0.uuidString) < (rank($1), known[$1]?.createdAt ?? .distantFuture, $1.uuidString)
                }
                let winner = ordered[0]
                for loser in ordered where loser != winner {
                    var kept = known[winner] ?? .new()
                    let gone = known[loser] ?? .new()
                    if !kept.userIDs.isEmpty && !gone.userIDs.isEmpty && kept.userIDs.isDisjoint(with: gone.userIDs) { continue }
                    if kept.mergedProfiles + gone.mergedProfiles + 1 > siteRules.maxMergedProfiles {
                        let key = keys.first { owner[$0] == loser } ?? keys[0]
                        conflicts.add(.mergeCap, key, event: event, other: loser)
                        continue
                    }
                    if let over = IdentityKind.allCases.first(where: { kind in
                        kind != .userID && (kept.identities[kind] ?? 0) + (gone.identities[kind] ?? 0) > siteRules.limit(kind)
                    }) {
                        let key = keys.first { owner[$0] == loser && $0.kind == over } ?? keys.first { owner[$0] == loser } ?? keys[0]
                        conflicts.add(.identifierLimit, key, event: event, other: loser)
                        continue
                    }
                    resolution.merges.append((loser, winner))
                    survivor[loser] = winner
                    kept.userIDs.formUnion(gone.userIDs)
                    kept.verified.formUnion(gone.verified)
                    kept.identities.merge(gone.identities, uniquingKeysWith: +)
                    kept.mergedProfiles += gone.mergedProfiles + 1
                    known[winner] = kept
                    for (key, id) in owner where id == loser { owner[key] = winner }
                    for (key, id) in newIdentities where id == loser { newIdentities[key] = winner }
                    for (key, id) in newlyVerified where id == loser { newlyVerified[key] = winner }
                    for (eventID, id) in resolution.profileOfEvent where id == loser { resolution.profileOfEvent[eventID] = winner }
                    if resolution.created.remove(loser) != nil { siteOfNew[loser] = nil }
                }
                target = winner
            }
            for key in keys where !kept.contains(key) {
                if let holder = owner[key], holder != target, !transfers.contains(key) { continue }  // stays with its (another user's) profile
                let isNew = owner[key] == nil
                if isNew || transfers.contains(key) {
                    // One more identifier of this kind than the site allows: the event goes on without it.
                    if (known[target]?.identities[key.kind] ?? 0) + 1 > siteRules.limit(key.kind) {
                        conflicts.add(.identifierLimit, key, event: event)
                        continue
                    }
                    if let holder = owner[key] { known[holder]?.identities[key.kind, default: 1] -= 1 }
                    owner[key] = target
                    known[target, default: .new()].identities[key.kind, default: 0] += 1
                    if key.kind == .userID { known[target, default: .new()].userIDs.insert(key.value) }
                    if isNew { newIdentities[key] = target }
                }
                if verified(key) && !(known[target]?.verified.contains(key) ?? false) {
                    known[target, default: .new()].verified.insert(key)
                    if !isNew { newlyVerified[key] = target }
                }
            }
            resolution.profileOfEvent[event.id] = target
        }

        try await insertProfiles(siteOfNew, on: tx)
        try await insertIdentities(newIdentities, verified: known, on: tx)
        try await moveAndVerify(newlyVerified, on: tx)
        for merge in resolution.merges where !resolution.created.contains(merge.loser) {
            try await ProfileMerger(registry: registry, logger: logger).merge(loser: merge.loser, into: merge.winner, on: tx)
        }
        resolution.conflicts = try await conflicts.write(profileOfEvent: resolution.profileOfEvent, survivor: survivor, on: tx, logger: logger)
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
            SELECT p.id, p.site_id, p.created_at, p.merged_into IS NOT NULL, p.merged_profiles,
                   coalesce((SELECT array_agg(pi.value) FROM profile_identities pi WHERE pi.profile_id = p.id AND pi.kind = 'user_id'), '{}'),
                   coalesce((SELECT array_agg(pi.kind) FROM profile_identities pi WHERE pi.profile_id = p.id AND pi.verified), '{}'),
                   coalesce((SELECT array_agg(pi.value) FROM profile_identities pi WHERE pi.profile_id = p.id AND pi.verified), '{}'),
                   (SELECT array[count(*) FILTER (WHERE pi.kind = 'anonymous_id'), count(*) FILTER (WHERE pi.kind = 'user_id'),
                                 count(*) FILTER (WHERE pi.kind = 'email')]
                    FROM profile_identities pi WHERE pi.profile_id = p.id)
            FROM visitor_profiles p WHERE p.id = ANY(\(Array(ids))) ORDER BY p.id FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var known: [UUID: Known] = [:]
        for try await (id, site, createdAt, merged, mergedProfiles, users, verifiedKinds, verifiedValues, counts)
            in rows.decode((UUID, Int64, Date, Bool, Int, [String], [String], [String], [Int64]).self) where !merged {
            let verified = zip(verifiedKinds, verifiedValues).compactMap { kind, value in
                IdentityKind(rawValue: kind).map { IdentityKey(siteID: site, kind: $0, value: value) }
            }
            let kinds: [IdentityKind] = [.anonymousID, .userID, .email]
            known[id] = Known(createdAt: createdAt, userIDs: Set(users), verified: Set(verified),
                              identities: Dictionary(uniqueKeysWithValues: zip(kinds, counts.map(Int.init))), mergedProfiles: mergedProfiles)
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
    private func insertIdentities(_ identities: [IdentityKey: UUID], verified known: [UUID: Known], on tx: PostgresConnection) async throws {
        guard !identities.isEmpty else { return }
        let keys = Array(identities.keys)
        let verified = keys.map { known[identities[$0]!]?.verified.contains($0) ?? false }
        try await tx.query(
            """
            INSERT INTO profile_identities (site_id, kind, value, profile_id, verified)
            SELECT * FROM unnest(\(keys.map(\.siteID))::bigint[], \(keys.map(\.kind.rawValue))::text[],
                                 \(keys.map(\.value))::text[], \(keys.map { identities[$0]! })::uuid[], \(verified)::boolean[])
            """, logger: logger)
    }

    /// Named query `verify_identities`: identifiers the site has now vouched for, on the profile
    /// the event resolved to (a claimed email another profile held moves here).
    private func moveAndVerify(_ identities: [IdentityKey: UUID], on tx: PostgresConnection) async throws {
        guard !identities.isEmpty else { return }
        let keys = Array(identities.keys)
        try await tx.query(
            """
            UPDATE profile_identities pi SET profile_id = k.profile, verified = true
            FROM unnest(\(keys.map(\.siteID))::bigint[], \(keys.map(\.kind.rawValue))::text[], \(keys.map(\.value))::text[],
                        \(keys.map { identities[$0]! })::uuid[]) AS k(site, kind, value, profile)
            WHERE pi.site_id = k.site AND pi.kind = k.kind AND pi.value = k.value
            """, logger: logger)
    }
}
