import Foundation
import ProfileModel

/// A page view read from a `page` event.
struct PageViewInput: Sendable {
    let event: StoredEvent
    let profileID: UUID
    let url: String
    let path: String
    let title: String?
    let referrer: String?
    let campaign: Campaign?

    init?(event: StoredEvent, profileID: UUID) {
        guard event.type == "page" else { return nil }
        let page = event.context["page"]?.objectValue ?? [:]
        guard let url = event.properties["url"]?.stringValue ?? page["url"]?.stringValue, !url.isEmpty else { return nil }
        let components = URLComponents(string: url)
        self.event = event
        self.profileID = profileID
        self.url = String(url.prefix(2048))
        self.path = event.properties["path"]?.stringValue ?? page["path"]?.stringValue ?? (components?.path.isEmpty == false ? components!.path : "/")
        self.title = event.properties["title"]?.stringValue ?? event.name ?? page["title"]?.stringValue
        self.referrer = event.properties["referrer"]?.stringValue ?? page["referrer"]?.stringValue
        self.campaign = Self.campaign(context: event.context["campaign"]?.objectValue, query: components?.queryItems ?? [])
    }

    /// `context.campaign` as the tracker and Segment SDKs send it, else the URL's utm_* parameters.
    static func campaign(context: [String: JSONValue]?, query: [URLQueryItem]) -> Campaign? {
        if let context {
            let campaign = Campaign(source: context["source"]?.stringValue, medium: context["medium"]?.stringValue,
                                    name: context["name"]?.stringValue, term: context["term"]?.stringValue,
                                    content: context["content"]?.stringValue)
            if campaign.source != nil || campaign.name != nil || campaign.medium != nil { return campaign }
        }
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value.flatMap { $0.isEmpty ? nil : $0 } }
        let campaign = Campaign(source: value("utm_source"), medium: value("utm_medium"), name: value("utm_campaign"),
                                term: value("utm_term"), content: value("utm_content"))
        return campaign.source != nil || campaign.name != nil || campaign.medium != nil ? campaign : nil
    }
}

/// Dwell time and scroll depth reported for a page view, from the tracker's `Page Dwell` and
/// `Scroll Depth` events or the interaction endpoint's `dwell` and `scroll` kinds.
struct PageEngagement: Sendable {
    let profileID: UUID
    let clientPageViewID: String?
    let path: String?
    let at: Date
    let dwellMilliseconds: Int64
    let scrollPercent: Int

    init?(event: StoredEvent, profileID: UUID) {
        let properties = event.properties
        var dwell: Double = 0
        var scroll: Double = 0
        switch (event.type, event.eventName) {
        case ("track", "Page Dwell"):
            dwell = properties["dwell_ms"]?.doubleValue ?? 0
            scroll = properties["max_scroll_depth"]?.doubleValue ?? 0
        case ("track", "Scroll Depth"), ("interaction", "scroll"):
            scroll = properties["depth"]?.doubleValue ?? 0
        case ("interaction", "dwell"):
            dwell = properties["dwellMs"]?.doubleValue ?? 0
        default:
            return nil
        }
        self.profileID = profileID
        self.clientPageViewID = properties["page_view_id"]?.stringValue
        self.path = properties["path"]?.stringValue ?? properties["url"]?.stringValue.flatMap { URLComponents(string: $0)?.path }
        self.at = event.occurredAt
        self.dwellMilliseconds = Int64(max(0, min(dwell, 86_400_000)))
        self.scrollPercent = Int(max(0, min(scroll, 100)))
    }

    var row: JSONValue {
        ["profile_id": .string(profileID.uuidString), "client_pv": clientPageViewID.map(JSONValue.string) ?? .null,
         "path": path.map(JSONValue.string) ?? .null, "at": .string(at.formatted(FieldProvenance.timestampStyle)),
         "dwell_ms": .number(Double(dwellMilliseconds)), "scroll": .number(Double(scrollPercent))]
    }
}
