// libyaml itself, as Yams builds and links it: Yams offers no access to the parser's events, and
// the check below must run before Yams builds anything (see `load`).
import CYaml
import Yams

/// YAML that someone other than the operator sends (a catalog import), loaded only when it is
/// plain data: no anchors or aliases, a bounded size and depth. An alias makes one node stand for
/// another, so ten lines of nested aliases (the "billion laughs") stand for 10⁹ nodes, which Yams
/// builds in full; a mapping key that is an alias is even hashed in full while Yams composes.
public enum UntrustedYAML {
    /// As much as the import endpoint reads (it refuses larger bodies itself).
    public static let maximumBytes = 5 * 1024 * 1024
    /// Catalogs nest four levels deep; Yams composes recursively, so depth costs stack.
    public static let maximumDepth = 32

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case tooLarge(bytes: Int)
        case anchor(name: String, line: Int)
        case alias(name: String, line: Int)
        case tooDeep(line: Int)
        case invalid(problem: String, line: Int)

        public var description: String {
            switch self {
            case .tooLarge(let bytes):
                return "the YAML document has \(bytes) bytes; at most \(UntrustedYAML.maximumBytes) are accepted"
            case .anchor(let name, let line):
                return "YAML anchors and aliases are not accepted (anchor &\(name) at line \(line)); write each value out"
            case .alias(let name, let line):
                return "YAML anchors and aliases are not accepted (alias *\(name) at line \(line)); write each value out"
            case .tooDeep(let line):
                return "the YAML document nests deeper than \(UntrustedYAML.maximumDepth) levels (line \(line))"
            case .invalid(let problem, let line):
                return "not valid YAML: \(problem) (line \(line))"
            }
        }
    }

    /// The document as Yams loads it (`[String: Any]`, `[Any]`, scalars), or nil when it is empty.
    public static func load(_ text: String) throws -> Any? {
        try check(text)
        return try Yams.load(yaml: text)
    }

    /// Reads libyaml's events once, in constant memory, and refuses at the first anchor, alias or
    /// level too deep: the document never grows past its own text.
    static func check(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard bytes.count <= maximumBytes else { throw Refusal.tooLarge(bytes: bytes.count) }
        guard !bytes.isEmpty else { return }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw Refusal.invalid(problem: "the YAML parser could not start", line: 0) }
        defer { yaml_parser_delete(&parser) }
        try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var depth = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
                    throw Refusal.invalid(problem: problem, line: Int(parser.problem_mark.line) + 1)
                }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                let anchor: UnsafeMutablePointer<yaml_char_t>?
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_ALIAS_EVENT:
                    throw Refusal.alias(name: String(cString: event.data.alias.anchor), line: line)
                case YAML_SCALAR_EVENT:
                    anchor = event.data.scalar.anchor
                case YAML_SEQUENCE_START_EVENT:
                    anchor = event.data.sequence_start.anchor
                    depth += 1
                case YAML_MAPPING_START_EVENT:
                    anchor = event.data.mapping_start.anchor
                    depth += 1
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    anchor = nil
                    depth -= 1
                default:
                    anchor = nil
                }
                if let anchor { throw Refusal.anchor(name: String(cString: anchor), line: line) }
                if depth > maximumDepth { throw Refusal.tooDeep(line: line) }
            }
        }
    }
}
