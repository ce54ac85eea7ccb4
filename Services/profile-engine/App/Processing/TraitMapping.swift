import ProfileModel

/// Maps Segment traits (and the spellings SDKs commonly use) onto the fields declared in
/// `profile_fields.yaml`. Traits that match no declared field stay in the raw event only.
enum TraitMapping {
    static let aliases: [String: String] = [
        "title": "job_title", "jobTitle": "job_title", "job": "job_title",
        "phoneNumber": "phone", "phone_number": "phone", "mobile": "phone",
        "emailAddress": "email", "email_address": "email",
        "url": "website", "companyWebsite": "website",
        "companySize": "company_size", "employeeCount": "employees",
        "fullName": "name", "full_name": "name",
    ]

    static func fields(from traits: [String: JSONValue], registry: FieldRegistry) -> [(String, JSONValue)] {
        var result: [String: JSONValue] = [:]
        for (key, value) in traits where !value.isNull {
            let field = registry[key] != nil ? key : aliases[key]
            if let field, registry[field] != nil, result[field] == nil { result[field] = value }
        }
        // Segment's firstName/lastName become one name when no name was given.
        if result["name"] == nil, registry["name"] != nil {
            let parts = ["firstName", "first_name", "lastName", "last_name"].compactMap { traits[$0]?.stringValue }.filter { !$0.isEmpty }
            if !parts.isEmpty { result["name"] = .string(parts.prefix(2).joined(separator: " ")) }
        }
        if case .string(let company)? = result["company"], company.isEmpty { result["company"] = nil }
        return result.sorted { $0.key < $1.key }
    }
}
