import Foundation
import Logging
import PostgresNIO
import ProfileModel

/// Applies a batch of claimed events to profiles, identities, sessions, page views, chat and
/// metrics, inside the caller's transaction (which also deletes the queue rows): all or nothing.
struct BatchProcessor: Sendable {
    let registry: FieldRegistry
    let sessionizer: Sessionizer
    let scoring: LeadScoringConfig
    /// Chat and page interests, with the analyser the settings choose (EngineComponents).
    let interests: InterestStep
    /// The identity guardrails of each site.
    let identityRules: SiteIdentityRules
    let logger: Logger

    struct Outcome: Sendable {
        var applied = 0
        var skipped = 0
        /// Events another worker's locks kept out of this batch: their queue rows stay for the next one.
        var deferred: Set<Int64> = []
        var changedProfiles: Set<UUID> = []
        /// Merges and links the identity rules refused, by rule.
        var identityConflicts: [IdentityConflict.Rule: Int] = [:]
    }

    struct FieldRejection: Sendable {
        let siteID: Int64
        let profileID: UUID
        let field: String
        let reason: String
        let source: FieldSource
        let eventID: Int64
    }

    func apply(_ items: [QueuedEvent], on tx: PostgresConnection) async throws -> Outcome {
        var outcome = Outcome()
        // Bots and events stripped of every identifier (consent) stay in the raw log only.
        let candidates = items.compactMap(\.event).filter { !$0.isBot && $0.deviceKey != nil }
        let erased = try await erasedEvents(candidates, on: tx)
        let unerased = candidates.filter { !erased.contains($0.id) }.sorted { ($0.occurredAt, $0.id) < ($1.occurredAt, $1.id) }
        outcome.skipped = items.count - unerased.count
        guard !unerased.isEmpty else { return outcome }

        let resolution = try await IdentityResolver(registry: registry, rules: identityRules, logger: logger).resolve(unerased, on: tx)
        outcome.deferred = resolution.deferred
        outcome.identityConflicts = resolution.conflicts
        let events = unerased.filter { !resolution.deferred.contains($0.id) }
        guard !events.isEmpty else { return outcome }
        var profiles = try await loadProfiles(Set(resolution.profileOfEvent.values), created: resolution.created, on: tx)
        var rejections: [FieldRejection] = []
        for event in events {
            guard let id = resolution.profileOfEvent[event.id], var profile = profiles[id] else { continue }
            profile.firstEventID = profile.firstEventID ?? event.id
            profile.seen(at: event.occurredAt)
            if event.type == "identify" {
                for (name, raw) in TraitMapping.fields(from: event.traits, registry: registry) {
                    guard let field = registry[name] else { continue }
                    switch field.normalize(raw) {
                    case .success(let value):
                        profile.offer(field, value: value, provenance: FieldProvenance(source: .identify, at: event.occurredAt, eventID: event.id))
                    case .failure(let error):
                        rejections.append(FieldRejection(siteID: event.siteID, profileID: id, field: name, reason: error.message,
                                                         source: .identify, eventID: event.id))
                    }
                }
            }
            if event.type == "page", let campaign = PageViewInput(event: event, profileID: id)?.campaign?.name,
               let field = registry["first_touch_campaign"], case .success(let value) = field.normalize(.string(campaign)) {
                profile.offer(field, value: value, provenance: FieldProvenance(source: .inferred, at: event.occurredAt, eventID: event.id))
            }
            if event.userID != nil { profile.markKnown(reason: "user id \(event.type == "identify" ? "identified" : "seen")") }
            if profile.fields["email"] != nil { profile.markKnown(reason: "email known") }
            profiles[id] = profile
            outcome.applied += 1
        }

        var touchedSessions = try await writePageViews(events, resolution: resolution, on: tx)
        touchedSessions.formUnion(try await applyPageEngagement(events, resolution: resolution, on: tx))
        try await writeChat(events, resolution: resolution, on: tx)
        try await interests.apply(events, resolution: resolution, profiles: &profiles, registry: registry, on: tx)
        try await refreshSessions(touchedSessions, on: tx)
        try await refreshEngagement(Set(profiles.keys), on: tx)
        try await applyScores(&profiles, on: tx)
        try await writeProfiles(Array(profiles.values), on: tx)
        try await writeRejections(rejections, on: tx)
        let segments = SegmentEvaluator(logger: logger)
        let segmentChanges = try await segments.evaluate(Array(profiles.keys), segments: try await segments.activeSegments(on: tx), on: tx)
        outcome.changedProfiles = try await recordChanges(Array(profiles.values), merges: resolution.merges, alsoChanged: segmentChanges, on: tx)
        return outcome
    }

    // MARK: - Scoring

    /// Lead and engagement scores with their breakdown, and stage changes, from the state the
    /// batch has just written: they commit with the events that changed them.
    func applyScores(_ profiles: inout [UUID: ProfileState], on tx: PostgresConnection) async throws {
        let signals = try await ScoringSignalsQuery.load(Array(profiles.keys), pricingPath: scoring.pricingPath, on: tx, logger: logger)
        let scorer = LeadScorer(config: scoring, now: Date())
        for (id, profile) in profiles {
            var updated = profile
            updated.apply(scorer.score(fields: profile.fields, signals: signals[id] ?? ScoringSignals(), currentStage: profile.stage))
            profiles[id] = updated
        }
    }

    // MARK: - Erasure

    /// Named query `erased_identities`: events of an erased visitor are dropped, not rebuilt. The
    /// tombstones are matched through `erasure_tombstone_hash` (sql/0014), their one definition,
    /// and on the event's own site only.
    private func erasedEvents(_ events: [StoredEvent], on tx: PostgresConnection) async throws -> Set<Int64> {
        let keysOfEvent = events.map { ($0, IdentityKey.keys(of: $0, registry: registry)) }
        let keys = Array(Set(keysOfEvent.flatMap(\.1)))
        guard !keys.isEmpty else { return [] }
        let rows = try await tx.query(
            """
            SELECT k.site, k.kind, k.value FROM unnest(\(keys.map(\.siteID)), \(keys.map(\.kind.rawValue)), \(keys.map(\.value))) AS k(site, kind, value)
            WHERE EXISTS (SELECT 1 FROM erasure_tombstones t WHERE t.site_id = k.site AND t.identity_hash = erasure_tombstone_hash(k.kind, k.value))
            """, logger: logger)
        var erased = Set<IdentityKey>()
        for try await (site, kind, value) in rows.decode((Int64, String, String).self) {
            if let kind = IdentityKind(rawValue: kind) { erased.insert(IdentityKey(siteID: site, kind: kind, value: value)) }
        }
        guard !erased.isEmpty else { return [] }
        return Set(keysOfEvent.filter { $0.1.contains { erased.contains($0) } }.map { $0.0.id })
    }

    // MARK: - Profiles

    func loadProfiles(_ ids: Set<UUID>, created: Set<UUID>, on tx: PostgresConnection) async throws -> [UUID: ProfileState] {
        let rows = try await tx.query(
            """
            SELECT id, site_id, fields::text, field_meta::text, first_seen_at, last_seen_at, stage, lead_score, engagement_score, score_breakdown::text
            FROM visitor_profiles WHERE id = ANY(\(Array(ids))) ORDER BY id FOR UPDATE
            """, logger: logger)
        var profiles: [UUID: ProfileState] = [:]
        for try await (id, site, fields, meta, first, last, stage, lead, engagement, breakdown) in rows.decode(
            (UUID, Int64, String, String, Date?, Date?, String, Int, Int, String).self
        ) {
            let scores = (try? JSONValue.parse(breakdown))?.arrayValue ?? []
            profiles[id] = ProfileState(id: id, siteID: site, fields: StoredEvent.decodeObject(fields), meta: StoredEvent.decodeObject(meta),
                                        firstSeen: first, lastSeen: last, stage: stage, originalStage: stage, isNew: created.contains(id),
                                        leadScore: lead, engagementScore: engagement, breakdown: scores)
        }
        return profiles
    }

    /// Named query `update_profiles`.
    func writeProfiles(_ profiles: [ProfileState], on tx: PostgresConnection) async throws {
        guard !profiles.isEmpty else { return }
        try await tx.query(
            """
            UPDATE visitor_profiles p SET fields = u.fields, field_meta = u.field_meta, first_seen_at = u.first_seen_at,
                   last_seen_at = u.last_seen_at, stage = u.stage, lead_score = u.lead_score, engagement_score = u.engagement_score,
                   score_breakdown = u.score_breakdown, version = p.version + 1, updated_at = now()
            FROM jsonb_to_recordset(\(JSONValue.array(profiles.map(\.row)).jsonText)::jsonb)
                 AS u(id uuid, fields jsonb, field_meta jsonb, first_seen_at timestamptz, last_seen_at timestamptz, stage text,
                      lead_score int, engagement_score int, score_breakdown jsonb)
            WHERE p.id = u.id
            """, logger: logger)
    }

    /// Named query `insert_field_rejections`: invalid values are not stored, but an operator can see why.
    private func writeRejections(_ rejections: [FieldRejection], on tx: PostgresConnection) async throws {
        guard !rejections.isEmpty else { return }
        let rows = JSONValue.array(rejections.map {
            ["site_id": .number(Double($0.siteID)), "profile_id": .string($0.profileID.uuidString), "field": .string($0.field),
             "reason": .string($0.reason), "source": .string($0.source.rawValue), "event_id": .number(Double($0.eventID))]
        })
        try await tx.query(
            """
            INSERT INTO field_rejections (site_id, profile_id, field, reason, source, event_id)
            SELECT * FROM jsonb_to_recordset(\(rows.jsonText)::jsonb)
                 AS r(site_id bigint, profile_id uuid, field text, reason text, source text, event_id bigint)
            """, logger: logger)
    }

    /// Named query `record_profile_changes`: the change log that webhooks and live readers follow,
    /// and one `profile_updated` notification per changed profile (delivered at commit).
    func recordChanges(_ profiles: [ProfileState], merges: [(loser: UUID, winner: UUID)], alsoChanged: Set<UUID>,
                               on tx: PostgresConnection) async throws -> Set<UUID> {
        var changes: [JSONValue] = []
        var transitions: [JSONValue] = []
        for profile in profiles {
            let base: [String: JSONValue] = ["site_id": .number(Double(profile.siteID)), "profile_id": .string(profile.id.uuidString),
                                             "event_id": profile.firstEventID.map { .number(Double($0)) } ?? .null]
            if profile.isNew {
                changes.append(.object(base.merging(["kind": "created", "changes": ["fields": .array(profile.changedFields.sorted().map(JSONValue.string))]]) { $1 }))
            } else if !profile.changedFields.isEmpty {
                changes.append(.object(base.merging(["kind": "updated", "changes": ["fields": .array(profile.changedFields.sorted().map(JSONValue.string))]]) { $1 }))
            }
            if profile.stage != profile.originalStage {
                changes.append(.object(base.merging(["kind": .string(ChangeKind.stageChanged.rawValue), "changes": ["from": .string(profile.originalStage), "to": .string(profile.stage)]]) { $1 }))
                transitions.append(.object(base.merging(["from_stage": .string(profile.originalStage), "to_stage": .string(profile.stage),
                                                         "reason": .string(profile.stageReason ?? ""),
                                                         "lead_score": .number(Double(profile.leadScore))]) { $1 }))
            }
        }
        if !changes.isEmpty {
            try await tx.query(
                """
                INSERT INTO profile_changes (site_id, profile_id, kind, changes, event_id)
                SELECT * FROM jsonb_to_recordset(\(JSONValue.array(changes).jsonText)::jsonb)
                     AS c(site_id bigint, profile_id uuid, kind text, changes jsonb, event_id bigint)
                """, logger: logger)
        }
        if !transitions.isEmpty {
            try await tx.query(
                """
                INSERT INTO stage_transitions (site_id, profile_id, from_stage, to_stage, reason, lead_score, event_id)
                SELECT site_id, profile_id, from_stage, to_stage, reason, lead_score, event_id
                FROM jsonb_to_recordset(\(JSONValue.array(transitions).jsonText)::jsonb)
                     AS t(site_id bigint, profile_id uuid, from_stage text, to_stage text, reason text, lead_score int, event_id bigint)
                """, logger: logger)
        }
        var changed = Set(changes.compactMap { $0["profile_id"]?.stringValue.flatMap(UUID.init(uuidString:)) })
        changed.formUnion(merges.map(\.winner))
        changed.formUnion(alsoChanged)
        if !changed.isEmpty {
            try await tx.query("SELECT pg_notify(\(NotificationChannel.profileUpdated.rawValue), id::text) FROM unnest(\(Array(changed))::uuid[]) AS id", logger: logger)
        }
        return changed
    }
}
