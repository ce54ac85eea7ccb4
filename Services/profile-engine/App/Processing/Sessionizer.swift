import Foundation

/// The campaign a page view came from; a different campaign starts a new session.
struct Campaign: Sendable, Equatable {
    var source: String?
    var medium: String?
    var name: String?
    var term: String?
    var content: String?
}

/// A session of one device as the sessionizer sees it.
struct SessionSpan: Sendable, Equatable {
    let id: UUID
    var start: Date
    var lastActivity: Date
    var campaign: Campaign?
    var isNew: Bool
    var changed: Bool
}

/// Assigns page views to sessions: a session continues while page views are at most `timeout`
/// apart and come from the same campaign. Works on the sessions already stored around the new
/// page views, so late and out-of-order page views land where in-order ones would have: one that
/// fills a gap joins (and may bridge) the sessions on either side.
struct Sessionizer: Sendable {
    let timeout: TimeInterval

    struct Result: Sendable {
        var sessions: [SessionSpan]
        /// page view key → session id
        var assignments: [Int64: UUID]
        /// sessions absorbed into another: (absorbed, survivor)
        var absorbed: [(UUID, UUID)]
    }

    func assign(_ pageViews: [(key: Int64, time: Date, campaign: Campaign?)], existing: [SessionSpan], newID: () -> UUID = UUID.init) -> Result {
        var sessions = existing.sorted { $0.start < $1.start }
        var assignments: [Int64: UUID] = [:]
        var absorbed: [(UUID, UUID)] = []
        for view in pageViews.sorted(by: { ($0.time, $0.key) < ($1.time, $1.key) }) {
            let matching = sessions.indices.filter { index in
                let session = sessions[index]
                guard view.time >= session.start.addingTimeInterval(-timeout),
                      view.time <= session.lastActivity.addingTimeInterval(timeout) else { return false }
                // A page view with a campaign different from the session's starts a new one,
                // unless it falls inside the session's own span (a late arrival from within it).
                if let campaign = view.campaign, campaign != session.campaign {
                    return view.time >= session.start && view.time <= session.lastActivity
                }
                return true
            }
            guard let first = matching.first else {
                let span = SessionSpan(id: newID(), start: view.time, lastActivity: view.time, campaign: view.campaign, isNew: true, changed: true)
                sessions.append(span)
                sessions.sort { $0.start < $1.start }
                assignments[view.key] = span.id
                continue
            }
            var survivor = sessions[first]
            survivor.start = min(survivor.start, view.time)
            survivor.lastActivity = max(survivor.lastActivity, view.time)
            survivor.changed = true
            for index in matching.dropFirst() {
                let other = sessions[index]
                survivor.start = min(survivor.start, other.start)
                survivor.lastActivity = max(survivor.lastActivity, other.lastActivity)
                absorbed.append((other.id, survivor.id))
                for (key, id) in assignments where id == other.id { assignments[key] = survivor.id }
            }
            let absorbedIDs = Set(matching.dropFirst().map { sessions[$0].id })
            sessions[first] = survivor
            sessions.removeAll { absorbedIDs.contains($0.id) }
            assignments[view.key] = survivor.id
        }
        return Result(sessions: sessions, assignments: assignments, absorbed: absorbed)
    }
}
