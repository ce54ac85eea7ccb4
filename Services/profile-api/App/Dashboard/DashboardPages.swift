import Foundation
import ProfileModel

/// The dashboard's HTML pages, built as strings; every dynamic value passes through HTML.escape.
enum DashboardPages {
    struct Chrome {
        /// The logout form's CSRF token; nil on the login page.
        let csrf: String?
        let site: String?
    }

    static func layout(_ title: String, _ body: String, chrome: Chrome) -> String {
        var nav = ""
        if let csrf = chrome.csrf {
            let site = chrome.site.map { "?" + HTML.query([("site", $0)]) } ?? ""
            nav = """
                <nav><a href="/dashboard\(HTML.escape(site))">Overview</a> <a href="/dashboard/profiles\(HTML.escape(site))">Profiles</a>
                <form method="post" action="/dashboard/logout" class="inline"><input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
                <button type="submit" id="logout">Sign out</button></form></nav>
                """
        }
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,">
            <title>\(HTML.escape(title)) · Profile Builder</title>
            <link rel="stylesheet" href="/dashboard/assets/dashboard.css">
            <script src="/dashboard/assets/dashboard.js" defer></script>
            </head><body>
            <header><h1><a href="/dashboard">Profile Builder</a></h1>\(nav)</header>
            <main>\(body)</main>
            </body></html>
            """
    }

    /// Both ways in: an API key, or the administrator's user and password when one is configured.
    static func login(error: String?, adminEnabled: Bool) -> String {
        let message = error.map { "<p class=\"error\" id=\"login-error\">\(HTML.escape($0))</p>" } ?? ""
        let admin = adminEnabled ? """
            <form method="post" action="/dashboard/login" id="admin-login-form">
            <h3>With the administrator account</h3>
            <label for="username">User</label>
            <input type="text" id="username" name="username" autocomplete="username" required>
            <label for="password">Password</label>
            <input type="password" id="password" name="password" autocomplete="current-password" required>
            <button type="submit">Sign in as administrator</button></form>
            """ : """
            <p class="note" id="admin-login-off">Administrator sign-in is off: the operator has not set
            DASHBOARD_ADMIN_USER and DASHBOARD_ADMIN_PASSWORD_HASH.</p>
            """
        return layout("Sign in", """
            <section class="panel login"><h2>Sign in</h2>\(message)
            <form method="post" action="/dashboard/login" id="login-form">
            <h3>With an API key</h3>
            <label for="api_key">API key (scope reports or admin)</label>
            <input type="password" id="api_key" name="api_key" autocomplete="off" required>
            <button type="submit">Sign in with the key</button></form>
            \(admin)</section>
            """, chrome: Chrome(csrf: nil, site: nil))
    }

    static func error(_ message: String, chrome: Chrome) -> String {
        layout("Error", "<section class=\"panel\"><p class=\"error\">\(HTML.escape(message))</p></section>", chrome: chrome)
    }

    /// The range form shared by the overview: site, from, to, time zone, interval.
    static func rangeForm(_ request: ReportRequest, sites: [String]) -> String {
        let options = sites.map { "<option\($0 == request.site ? " selected" : "")>\(HTML.escape($0))</option>" }.joined()
        let intervals = ["day", "week"].map { "<option\($0 == request.interval.rawValue ? " selected" : "")>\($0)</option>" }.joined()
        return """
            <form method="get" action="/dashboard" class="range" id="range-form">
            <label>Site <select name="site">\(options)</select></label>
            <label>From <input type="date" name="from" value="\(HTML.escape(request.from))"></label>
            <label>To <input type="date" name="to" value="\(HTML.escape(request.to))"></label>
            <label>Time zone <input type="text" name="tz" value="\(HTML.escape(request.timeZone))" size="16"></label>
            <label>By <select name="interval">\(intervals)</select></label>
            <button type="submit">Show</button></form>
            """
    }

    struct Overview {
        let summary: ReportTable
        let traffic: ReportTable
        let pages: ReportTable
        let interests: ReportTable
        let pipeline: ReportTable
        let segments: ReportTable
        let roi: ReportTable
    }

    static func overview(_ request: ReportRequest, sites: [String], data: Overview, chrome: Chrome) -> String {
        func number(_ value: JSONValue?) -> String {
            guard let value, let number = value.doubleValue else { return "–" }
            return SVGChart.format(number)
        }
        let labels = data.traffic.rows.map { $0["period_start"]?.stringValue ?? "" }
        func series(_ name: String, _ column: String) -> SVGChart.Series {
            SVGChart.Series(name: name, values: data.traffic.rows.map { $0[column]?.doubleValue ?? 0 })
        }
        let cards = data.summary.rows.map { row in
            "<div class=\"metric\" data-metric=\"\(HTML.escape(row["metric"]?.stringValue ?? ""))\"><span class=\"value\">\(HTML.escape(number(row["value"])))</span>"
                + "<span class=\"name\">\(HTML.escape((row["metric"]?.stringValue ?? "").replacingOccurrences(of: "_", with: " ")))</span></div>"
        }.joined()
        let funnelStages = LeadStage.names.filter { $0 != LeadStage.anonymous.rawValue }
        let pipelineRows = Dictionary(data.pipeline.rows.map { ($0["stage"]?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        let funnel = SVGChart.bars(title: "Lead funnel: profiles entering each stage", items: funnelStages.map { stage in
            let row = pipelineRows[stage]
            let conversion = row?["conversion_to_next"]?.doubleValue.map { String(format: " (%.0f%% moved on)", $0 * 100) } ?? ""
            return (stage, row?["entered"]?.doubleValue ?? 0, conversion)
        })
        let pipelineTable = HTML.table(
            ["Stage", "Now", "Entered", "Moved on", "Conversion", "Avg hours", "Median hours"],
            data.pipeline.rows.map { row in
                [row["stage"]?.stringValue ?? "", number(row["current_profiles"]), number(row["entered"]), number(row["advanced"]),
                 row["conversion_to_next"]?.doubleValue.map { String(format: "%.1f%%", $0 * 100) } ?? "–",
                 number(row["avg_hours_in_stage"]), number(row["median_hours_in_stage"])]
            }, numeric: [1, 2, 3, 4, 5, 6], id: "pipeline-table")
        let pagesTable = HTML.table(["Page", "Views", "Entries", "Exits", "Exit rate"], data.pages.rows.map { row in
            [row["path"]?.stringValue ?? "", number(row["views"]), number(row["entries"]), number(row["exits"]),
             row["exit_rate"]?.doubleValue.map { String(format: "%.1f%%", $0 * 100) } ?? "–"]
        }, numeric: [1, 2, 3, 4], id: "pages-table")
        let top = data.interests.details["top"]?.arrayValue ?? []
        let interestsChart = top.isEmpty ? "<p class=\"empty\">No data in this range.</p>" : SVGChart.bars(
            title: "Top interests by signals",
            items: top.map { ($0["target_name"]?.stringValue ?? "?", $0["signals"]?.doubleValue ?? 0, " signals") })
        // Segment sizes: members at the end of the range, and the range's entries and exits.
        var segmentFigures: [String: (members: Double, entered: Double, left: Double)] = [:]
        var segmentOrder: [String] = []
        for row in data.segments.rows {
            let name = row["segment"]?.stringValue ?? ""
            if segmentFigures[name] == nil { segmentOrder.append(name) }
            let old = segmentFigures[name] ?? (0, 0, 0)
            segmentFigures[name] = (row["members"]?.doubleValue ?? 0, old.entered + (row["entered"]?.doubleValue ?? 0),
                                    old.left + (row["left"]?.doubleValue ?? 0))
        }
        let segmentsTable = HTML.table(["Segment", "Members", "Entered", "Left"], segmentOrder.map { name in
            let figures = segmentFigures[name] ?? (0, 0, 0)
            return [name, SVGChart.format(figures.members), SVGChart.format(figures.entered), SVGChart.format(figures.left)]
        }, numeric: [1, 2, 3], id: "segments-table")
        let roiTable = HTML.table(["Group", "Visitors", "Converted", "Rate"], data.roi.rows.map { row in
            [row["group"]?.stringValue ?? "", number(row["visitors"]), number(row["converted"]),
             row["conversion_rate"]?.doubleValue.map { String(format: "%.1f%%", $0 * 100) } ?? "–"]
        }, numeric: [1, 2, 3], id: "roi-table")
        let difference = data.roi.totals["difference"]?.doubleValue.map { value in
            String(format: "Difference %+.1f points (95%% CI %+.1f to %+.1f)", value * 100,
                   (data.roi.totals["ci95_low"]?.doubleValue ?? 0) * 100, (data.roi.totals["ci95_high"]?.doubleValue ?? 0) * 100)
        } ?? "Not enough exposures to compare."
        let body = """
            \(rangeForm(request, sites: sites))
            <p class="meta">\(HTML.escape(request.site)): \(HTML.escape(request.from)) to \(HTML.escape(request.to)), \(HTML.escape(request.timeZone)) (\(HTML.escape(data.traffic.source)))</p>
            <section class="panel" id="panel-metrics"><h2>Key metrics</h2><div class="metrics">\(cards)</div></section>
            <div class="grid">
            <section class="panel" id="panel-trends"><h2>Visitors and sessions</h2>
            \(SVGChart.lines(title: "Visitors and sessions per \(request.interval.rawValue)", labels: labels,
                             series: [series("visitors", "visitors"), series("sessions", "sessions")]))</section>
            <section class="panel" id="panel-pageviews"><h2>Page views</h2>
            \(SVGChart.lines(title: "Page views per \(request.interval.rawValue)", labels: labels, series: [series("page views", "page_views")]))</section>
            <section class="panel" id="panel-funnel"><h2>Lead funnel</h2>\(funnel)</section>
            <section class="panel" id="panel-interests"><h2>Top interests</h2>\(interestsChart)</section>
            <section class="panel" id="panel-pipeline"><h2>Lead pipeline</h2>\(pipelineTable)</section>
            <section class="panel" id="panel-segments"><h2>Segment sizes</h2>\(segmentsTable)</section>
            <section class="panel" id="panel-pages"><h2>Top pages</h2>\(pagesTable)</section>
            <section class="panel" id="panel-roi"><h2>Personalization ROI</h2>\(roiTable)<p class="meta">\(HTML.escape(difference))</p></section>
            </div>
            """
        return layout("Overview", body, chrome: chrome)
    }

    static func profiles(site: String, sites: [String], query: String, rows: [JSONValue], chrome: Chrome) -> String {
        let options = sites.map { "<option\($0 == site ? " selected" : "")>\(HTML.escape($0))</option>" }.joined()
        var list = "<div class=\"scroll\"><table id=\"profiles-table\"><thead><tr><th>Name</th><th>Email</th><th>Company</th><th>Stage</th>"
            + "<th class=\"num\">Lead score</th><th>Last seen</th></tr></thead><tbody>"
        for row in rows {
            let id = row["id"]?.stringValue ?? ""
            let name = row["name"]?.stringValue ?? "(anonymous)"
            list += "<tr><td><a class=\"profile-link\" href=\"/dashboard/profiles/\(HTML.escape(id))\">\(HTML.escape(name))</a></td>"
                + "<td>\(HTML.escape(row["email"]?.stringValue ?? ""))</td><td>\(HTML.escape(row["company"]?.stringValue ?? ""))</td>"
                + "<td>\(HTML.escape(row["stage"]?.stringValue ?? ""))</td><td class=\"num\">\(HTML.escape(row["lead_score"]?.description ?? ""))</td>"
                + "<td>\(HTML.escape(shortTime(row["last_seen_at"])))</td></tr>"
        }
        list += "</tbody></table></div>"
        let body = """
            <section class="panel" id="panel-profiles"><h2>Profiles</h2>
            <form method="get" action="/dashboard/profiles" class="range" id="search-form">
            <label>Site <select name="site">\(options)</select></label>
            <label>Search <input type="search" name="q" id="q" value="\(HTML.escape(query))" placeholder="name, email or company"></label>
            <button type="submit">Search</button></form>
            \(rows.isEmpty ? "<p class=\"empty\">No profile matches.</p>" : list)</section>
            """
        return layout("Profiles", body, chrome: chrome)
    }

    static func profile(_ profile: JSONValue, chrome: Chrome) -> String {
        let fields = (profile["fields"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { [$0.key, $0.value.stringValue ?? $0.value.description] }
        let interests = (profile["interests"]?.arrayValue ?? []).map { item -> [String] in
            let pages = (item["pages"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
            let quotes = (item["quotes"]?.arrayValue ?? []).compactMap(\.stringValue).map { "“\($0)”" }.joined(separator: " ")
            return [item["target"]?.stringValue ?? "", item["confidence"]?.description ?? "", item["evidence_count"]?.description ?? "",
                    [pages, quotes].filter { !$0.isEmpty }.joined(separator: " · ")]
        }
        let breakdown = (profile["score_breakdown"]?.arrayValue ?? []).map { entry -> [String] in
            let object = entry.objectValue ?? [:]
            let points = object["points"] ?? object["score"] ?? object["value"]
            let label = (object["rule"] ?? object["reason"] ?? object["name"])?.stringValue ?? entry.description
            return [label, points?.description ?? ""]
        }
        let timeline = (profile["timeline"]?.arrayValue ?? []).map { [shortTime($0["at"]), $0["kind"]?.stringValue ?? "", $0["detail"]?.stringValue ?? ""] }
        let name = profile["fields"]?["name"]?.stringValue ?? profile["fields"]?["email"]?.stringValue ?? "Anonymous visitor"
        let body = """
            <section class="panel" id="panel-profile"><h2 id="profile-name">\(HTML.escape(name))</h2>
            <p class="meta">\(HTML.escape(profile["id"]?.stringValue ?? "")) · site \(HTML.escape(profile["site"]?.stringValue ?? "")) ·
            stage <strong>\(HTML.escape(profile["stage"]?.stringValue ?? ""))</strong> · lead score \(HTML.escape(profile["lead_score"]?.description ?? ""))
            · engagement \(HTML.escape(profile["engagement_score"]?.description ?? ""))</p></section>
            <div class="grid">
            <section class="panel" id="panel-fields"><h2>Fields</h2>\(HTML.table(["Field", "Value"], fields, id: "fields-table"))</section>
            <section class="panel" id="panel-score"><h2>Score breakdown</h2>\(HTML.table(["Rule", "Points"], breakdown, numeric: [1], id: "score-table"))</section>
            <section class="panel" id="panel-profile-interests"><h2>Interests and evidence</h2>
            \(HTML.table(["Interest", "Confidence", "Evidence", "Seen on / said"], interests, numeric: [1, 2], id: "interests-table"))</section>
            <section class="panel" id="panel-timeline"><h2>Timeline</h2>\(HTML.table(["When (UTC)", "What", "Detail"], timeline, id: "timeline-table"))</section>
            </div>
            """
        return layout(name, body, chrome: chrome)
    }

    /// "2026-03-02T10:05:00+00:00" → "2026-03-02 10:05".
    private static func shortTime(_ value: JSONValue?) -> String {
        guard let text = value?.stringValue else { return "" }
        return String(text.prefix(16)).replacingOccurrences(of: "T", with: " ")
    }
}
