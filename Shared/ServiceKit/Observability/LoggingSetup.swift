import Logging

/// Installs the process-wide log handler once, at the top of each executable's `main`.
public enum LoggingSetup {
    public static func bootstrap(service: String, level: Logger.Level, format: CommonConfig.LogFormat) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: return JSONLogHandler(label: service, level: level)
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
