import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ProfileModel
import ServiceKit

/// `/v1/profiles/{id}/recommendations` and `/v1/profiles/{id}/context` (for the chat agent).
struct PersonalizationController: Sendable {
    let auth: Authenticator
    let profiles: ProfileRepository
    let context: PersonalizationContext
    let client: PostgresClient
    var exposures: ExposureLog { ExposureLog(client: client) }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/v1/profiles/:id/recommendations") { request, requestContext in
            _ = try await auth.require(.profilesRead, request, logger: requestContext.logger)
            let id = try ProfilesController.profileID(requestContext)
            let limit = try JourneysController.int(ProfilesController.query(request), "limit", default: 5, 1...50)
            guard var result = try await RecommendationQuery.run(profile: id, limit: limit, client: client, logger: requestContext.logger)?.objectValue else {
                throw ProfilesController.notFound
            }
            let served = UUID(uuidString: result["profile_id"]?.stringValue ?? "") ?? id
            let holdout = context.isHoldout(served)
            result["holdout"] = .bool(holdout)
            if holdout { result["items"] = .array([]) }
            try await exposures.record(profile: served, holdout: holdout, itemsShown: result["items"]?.arrayValue?.count ?? 0,
                                       logger: requestContext.logger)
            return JSONResponse.make(.object(result))
        }
        router.get("/v1/profiles/:id/context") { request, requestContext in
            _ = try await auth.require(.profilesRead, request, logger: requestContext.logger)
            let id = try ProfilesController.profileID(requestContext)
            let maxCharacters = try JourneysController.int(ProfilesController.query(request), "max_chars", default: 1500, 200...8000)
            guard let found = try await profiles.get(id),
                  let document = try? JSONDecoder().decode(JSONValue.self, from: Data(found.document.utf8)) else { throw ProfilesController.notFound }
            let intents = try await recentIntents(found.id, logger: requestContext.logger)
            let recommendations = try await RecommendationQuery.run(profile: found.id, limit: 3, client: client, logger: requestContext.logger)
            let built = context.build(profile: document, intents: intents, recommendations: recommendations, maxCharacters: maxCharacters)
            try await exposures.record(profile: found.id, holdout: built["holdout"]?.boolValue ?? false,
                                       itemsShown: built["recommended"]?.arrayValue?.count ?? 0, logger: requestContext.logger)
            return JSONResponse.make(built)
        }
    }

    /// Named query `recent_intents`: distinct intents of the last 90 days, newest first.
    private func recentIntents(_ profile: UUID, logger: Logger) async throws -> [String] {
        let rows = try await client.query(
            """
            SELECT intent FROM chat_intents WHERE profile_id = \(profile) AND detected_at > now() - interval '90 days' AND intent <> 'pain_point'
            GROUP BY intent ORDER BY max(detected_at) DESC LIMIT 5
            """, logger: logger)
        var intents: [String] = []
        for try await intent in rows.decode(String.self) { intents.append(intent) }
        return intents
    }
}
