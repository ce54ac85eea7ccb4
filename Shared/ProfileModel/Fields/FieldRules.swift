import Foundation

/// Per-field validation rules; every rule is optional and only the ones meaningful for the
/// field's type are consulted (see `FieldValidator` for which type reads which rule).
public struct FieldRules: Sendable, Codable, Equatable {
    /// Pattern the whole normalised string must match (text, email, phone, url).
    public var regex: String?
    /// Type-specific variant: `"integer"` for number, `"lenient"` for url (adds a missing https://).
    public var format: String?
    /// Inclusive numeric bounds (number, engagement_score, lead_score).
    public var min: Double?
    public var max: Double?
    /// Length bounds in characters (text; `maxLength` also caps url, default 2048).
    public var minLength: Int?
    public var maxLength: Int?
    /// Allowed choices (select).
    public var options: [String]?
    /// ISO 3166-1 alpha-2 country assumed for phone numbers written without a country code.
    public var defaultCountry: String?
    /// Email domains to accept exclusively / to refuse; subdomains are included.
    public var allowedDomains: [String]?
    public var blockedDomains: [String]?
    /// Social networks the field may hold (social); all supported networks when nil.
    public var networks: [String]?
    /// Inclusive `YYYY-MM-DD` bounds (date).
    public var minDate: String?
    public var maxDate: String?

    public init(
        regex: String? = nil,
        format: String? = nil,
        min: Double? = nil,
        max: Double? = nil,
        minLength: Int? = nil,
        maxLength: Int? = nil,
        options: [String]? = nil,
        defaultCountry: String? = nil,
        allowedDomains: [String]? = nil,
        blockedDomains: [String]? = nil,
        networks: [String]? = nil,
        minDate: String? = nil,
        maxDate: String? = nil
    ) {
        self.regex = regex
        self.format = format
        self.min = min
        self.max = max
        self.minLength = minLength
        self.maxLength = maxLength
        self.options = options
        self.defaultCountry = defaultCountry
        self.allowedDomains = allowedDomains
        self.blockedDomains = blockedDomains
        self.networks = networks
        self.minDate = minDate
        self.maxDate = maxDate
    }
}
