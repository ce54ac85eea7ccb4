/// Well-known B2B software vendors and products, tokenised, so that "vs Zendesk" reads as a
/// comparison even when the catalog does not list the competitor.
enum CompetitorNames {
    static let all: [[String]] = [
        "salesforce", "hubspot", "zoho", "pipedrive", "zendesk", "freshdesk", "freshworks", "intercom", "mailchimp", "marketo",
        "pardot", "hootsuite", "buffer", "sprout social", "tableau", "power bi", "looker", "mixpanel", "amplitude", "optimizely",
        "google analytics", "okta", "auth0", "onelogin", "1password", "lastpass", "vanta", "drata", "fivetran", "stitch",
        "snowflake", "bigquery", "redshift", "databricks", "apigee", "kong", "veeam", "backblaze", "asana", "trello", "jira",
        "monday", "clickup", "slack", "microsoft teams", "zoom", "webex", "docusign", "adobe sign", "pandadoc", "twilio",
        "aircall", "talkdesk", "five9", "gong", "clari", "dynamics", "sugarcrm", "activecampaign", "sendgrid", "klaviyo",
    ].map { TextNormalizer.tokens($0).map(\.text) }
}
