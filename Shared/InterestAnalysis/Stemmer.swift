import Foundation

/// A light English suffix stripper: enough to make "pipelines", "pipeline" and "pipelining" meet,
/// and applied the same way to catalog phrases and messages, so its stems never need to be words.
public enum Stemmer {
    public static func stem(_ word: String) -> String {
        guard word.count > 3, word.allSatisfy(\.isLetter) else { return word }
        var w = word
        if w.hasSuffix("ies"), w.count > 4 {
            w = String(w.dropLast(3)) + "y"
        } else if w.hasSuffix("sses") {
            w = String(w.dropLast(2))
        } else if w.hasSuffix("s"), !w.hasSuffix("ss"), !w.hasSuffix("us"), !w.hasSuffix("is") {
            w = String(w.dropLast())
        }
        for suffix in ["ing", "ed"] where w.hasSuffix(suffix) && w.count - suffix.count >= 3 {
            w = String(w.dropLast(suffix.count))
            // "planning" → "plann" → "plan", so it meets "plan".
            if let last = w.last, w.count > 3, w.dropLast().last == last, !"lsz".contains(last) { w.removeLast() }
            break
        }
        if w.hasSuffix("e"), w.count > 4 { w.removeLast() }
        return w
    }
}
