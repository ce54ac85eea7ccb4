import Foundation
import Hummingbird
import PostgresNIO
import ProfileModel
import ServiceKit

/// `/v1/email-templates` (stored, validated Mustache templates) and
/// `POST /v1/profiles/{id}/email` (render one for a visitor).
struct EmailController: Sendable {
    let auth: Authenticator
    let profiles: ProfileRepository
    let client: PostgresClient

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/email-templates") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let rows = try await client.query(
                "SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, 'subject', subject, 'body', body, 'updated_at', updated_at) ORDER BY name), '[]')::text FROM email_templates",
                logger: context.logger)
            for try await text in rows.decode(String.self) { return ProfilesController.json("{\"data\":\(text)}") }
            return ProfilesController.json("{\"data\":[]}")
        }
        router.put("/v1/email-templates/:name") { request, context in
            let key = try await auth.require(.profilesWrite, request, logger: context.logger)
            let name = context.parameters.get("name") ?? ""
            guard name.range(of: "^[a-z0-9][a-z0-9_-]{0,62}$", options: .regularExpression) != nil else {
                throw APIError(.unprocessableContent, code: "invalid_value", detail: "the template name must be lower-case letters, digits, - or _", field: "name")
            }
            let body = try await ProfilesController.body(request, context: context)
            guard let text = body["body"]?.stringValue, !text.isEmpty, text.count <= 100_000 else {
                throw APIError.badRequest("missing_field", "'body' (the Mustache template) is required", field: "body")
            }
            let subject = body["subject"]?.stringValue ?? ""
            do {
                try EmailRenderer.validate(subject: subject, body: text)
            } catch let error as EmailRenderer.InvalidTemplate {
                throw APIError(.unprocessableContent, code: "invalid_template", detail: error.message, field: error.part)
            }
            try await client.transaction(logger: context.logger) { tx in
                try await tx.query(
                    """
                    INSERT INTO email_templates (name, subject, body) VALUES (\(name), \(subject), \(text))
                    ON CONFLICT (name) DO UPDATE SET subject = EXCLUDED.subject, body = EXCLUDED.body, updated_at = now()
                    """, logger: context.logger)
                try await AuditLog.record("email_template.save", target: name, key: key, requestID: context.requestID, on: tx, logger: context.logger)
            }
            return JSONResponse.make(["name": .string(name), "subject": .string(subject), "body": .string(text)])
        }
        router.post("/v1/profiles/:id/email") { request, context in
            _ = try await auth.require(.profilesRead, request, logger: context.logger)
            let id = try ProfilesController.profileID(context)
            let body = try await ProfilesController.body(request, context: context)
            guard let name = body["template"]?.stringValue else { throw APIError.badRequest("missing_field", "'template' is required", field: "template") }
            var template: (String, String)?
            for try await row in try await client.query("SELECT subject, body FROM email_templates WHERE name = \(name)", logger: context.logger)
                .decode((String, String).self) { template = row }
            guard let (subject, text) = template else {
                throw APIError(.notFound, code: "template_not_found", detail: "no email template named '\(name.prefix(60))'", field: "template")
            }
            guard let found = try await profiles.get(id),
                  let profile = try? JSONDecoder().decode(JSONValue.self, from: Data(found.document.utf8)) else { throw ProfilesController.notFound }
            let recommendations = try await RecommendationQuery.run(profile: found.id, limit: 3, client: client, logger: context.logger)
            let conversation = try await latestConversation(found.id, context: context)
            let rendered = try EmailRenderer.render(subject: subject, body: text,
                                                    context: EmailRenderer.context(profile: profile, recommendations: recommendations, conversation: conversation))
            return JSONResponse.make(["profile_id": .string(found.id.uuidString.lowercased()), "template": .string(name),
                                      "to": profile["fields"]?["email"] ?? .null, "subject": .string(rendered.subject), "body": .string(rendered.body)])
        }
    }

    /// Named query `latest_conversation_messages`.
    private func latestConversation(_ profile: UUID, context: ServiceRequestContext) async throws -> [JSONValue] {
        let rows = try await client.query(
            """
            SELECT coalesce(jsonb_agg(jsonb_build_object('role', m.role, 'text', m.text) ORDER BY m.sent_at, m.id), '[]')::text
            FROM chat_messages m
            WHERE m.profile_id = \(profile)
              AND m.conversation_id = (SELECT id FROM conversations WHERE profile_id = \(profile) ORDER BY last_message_at DESC LIMIT 1)
            """, logger: context.logger)
        for try await text in rows.decode(String.self) {
            return JSONValue(databaseText: text).arrayValue ?? []
        }
        return []
    }
}
