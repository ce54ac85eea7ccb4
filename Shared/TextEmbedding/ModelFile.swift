import Foundation

/// Reads a model folder's files, turning every failure into an error that names the file.
enum ModelFile {
    static func exists(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// - Parameter mapped: map instead of reading, for a file whose bytes are copied out once
    ///   (the weights): reading it into a buffer first would double the load's time and peak memory.
    static func read(_ url: URL, mapped: Bool = false) throws -> Data {
        guard exists(url) else { throw EmbeddingModelError(file: url.path, problem: "is missing") }
        do {
            return try Data(contentsOf: url, options: mapped ? .alwaysMapped : [])
        } catch {
            throw EmbeddingModelError(file: url.path, problem: "cannot be read (\(EmbeddingModelError.reason(error)))")
        }
    }

    static func json<T: Decodable>(_ type: T.Type, at url: URL, what: String) throws -> T {
        let data = try read(url)
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw EmbeddingModelError(file: url.path, problem: "is not \(what) (\(EmbeddingModelError.reason(error)))")
        }
    }
}
