/// Words that carry no topic: ignored by BM25 ranking and never "corrected" by fuzzy matching.
enum StopWords {
    static let all: Set<String> = [
        "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "at", "by", "from", "is", "are", "was", "were",
        "be", "been", "it", "its", "this", "that", "these", "those", "we", "our", "us", "you", "your", "i", "me", "my", "they",
        "them", "their", "he", "she", "his", "her", "do", "does", "did", "have", "has", "had", "can", "could", "would", "should",
        "will", "what", "which", "who", "how", "when", "where", "why", "if", "so", "but", "not", "no", "yes", "any", "all", "some",
        "about", "as", "just", "also", "there", "here", "than", "then", "too", "very", "more", "most", "other", "into", "over",
        "out", "up", "down", "only", "own", "same", "such", "both", "each", "few", "now", "get", "got", "like", "want", "need",
        "hi", "hello", "hey", "thanks", "thank", "please", "ok", "okay", "im", "ive", "were", "dont", "doesnt", "cant", "whats",
        "lets", "wed", "well", "one", "two", "per", "much", "many", "use", "using", "used", "team", "teams", "people", "something",
        "things", "thing", "really", "still", "even", "since", "after", "before", "again", "make", "makes", "way", "see", "look",
        "looking", "know", "think", "sure", "good", "great", "new", "right", "left", "last", "next", "first", "work", "works",
        "month", "year", "week", "day", "today", "tomorrow", "time", "there", "theirs", "shows", "show", "point", "plans", "plan",
    ]
}
