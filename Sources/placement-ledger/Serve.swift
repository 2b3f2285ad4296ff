import ArgumentParser
import Foundation
import Hummingbird
import LedgerStore
import Logging
import NIOCore
import PlacementAPI

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the Placement API.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8778
    @Option(help: "Data directory (created on first run).") var dataDir = "./data"
    @Option(help: "Largest request body accepted, in bytes (larger gets 413).") var maxBodyBytes = 1 << 20
    @Option(help: ArgumentHelp("How callers are identified: noauth2 (the token names the user; the default on a loopback address only) or keystone-headers (trust the identity headers keystonemiddleware sets in front of this server).", valueName: "strategy"))
    var authStrategy: String?
    @Option(help: "A policy file (YAML or JSON, as for Placement) whose rules replace the defaults.") var policyFile: String?
    @Flag(help: "Also honour the deprecated policy defaults (role:admin passes the service rules), as Placement with [oslo_policy] enforce_new_defaults = False.")
    var legacyPolicyDefaults = false
    @Option(help: "An origin allowed to make cross-origin requests (repeat for more; as Placement's [cors] allowed_origin). CORS is off without one.")
    var corsAllowedOrigin: [String] = []
    @Option(help: "A request header cross-origin callers may send (repeat for more; [cors] allow_headers).")
    var corsAllowHeader: [String] = []
    @Option(help: "Seconds after which a connection idle between requests, or sending a request too slowly, is closed.")
    var idleTimeout = 60
    @Option(help: "Open connections allowed from one client address.") var maxConnectionsPerClient = 256
    @Option(help: "Open connections allowed in all.") var maxConnections = 4096
    @Option(help: "Largest request line plus headers, in bytes (larger gets 400).") var maxHeaderBytes = 64 * 1024
    @Flag(inversion: .prefixedNo, help: "Answer GETs on the connection's event loop, and writes from a task on that loop, instead of in Hummingbird's Swift tasks (the same answers, less CPU).")
    var inlineReads = true

    func run() async throws {
        // A file size limit must fail the write (EFBIG -> 507), not kill the server.
        signal(SIGXFSZ, SIG_IGN)
        let auth: AuthStrategy
        do { auth = try AuthStrategy.resolve(authStrategy, host: host) } catch { throw ValidationError("\(error)") }
        let policy = try PolicyEngine(PolicyConfig(
            enforceNewDefaults: !legacyPolicyDefaults,
            overrides: try policyFile.map { try PolicyConfig.loadOverrides(path: $0) } ?? [:]))
        let lock = try DataDirLock(dataDir)
        defer { lock.release() }
        let store = try LedgerStore(path: dataDir)
        let feed = CommitFeed(last: try store.lastSequence())
        let writer = Writer(store: store, onCommit: { feed.publish($0) })
        let api = PlacementAPI(store: store, writer: writer, feed: feed)
        var logger = Logger(label: "placement-ledger") { ServerLogHandler(label: $0) }
        logger.logLevel = .notice
        let responder = PlacementResponder(
            api: api, limits: RequestLimits(maxBodyBytes: maxBodyBytes), auth: auth, policy: policy,
            cors: corsAllowedOrigin.isEmpty ? nil : CORSConfig(allowedOrigins: corsAllowedOrigin, allowHeaders: corsAllowHeader))
        let serverName = "placement-ledger"
        let last = try store.lastSequence()
        let announce = logger
        let app = Application(
            responder: responder,
            server: responder.http1Server(limits: ConnectionLimits(
                idleTimeout: .seconds(Int64(idleTimeout)), perClient: maxConnectionsPerClient, maxHeaderBytes: maxHeaderBytes),
                serverName: serverName, inlineReads: inlineReads),
            configuration: .init(address: .hostname(host, port: port), serverName: serverName,
                                 availableConnectionsDelegate: PlacementResponder.connectionCap(maxConnections)),
            onServerRunning: { [host, dataDir] channel in
                // Said once the socket listens (with the port it got, for --port 0), not before.
                let bound = channel.localAddress?.port ?? 0
                announce.notice("serving Placement on \(host):\(bound) (auth \(auth.rawValue)), data in \(dataDir), log at sequence \(last)")
            },
            logger: logger)
        // SIGTERM/SIGINT: stop accepting, finish in-flight requests, then commit what is queued.
        do {
            try await app.runService()
        } catch let e as IOError where [EADDRINUSE, EADDRNOTAVAIL, EACCES].contains(e.errnoCode) {
            throw CannotListen(address: "\(host):\(port)", reason: String(cString: strerror(e.errnoCode)))
        }
        writer.stop()
        try store.env.sync()
        logger.notice("stopped")
    }
}

/// The listening socket could not be had: said as an operator reads it,
/// not as NIO's bind call.
struct CannotListen: Error, CustomStringConvertible {
    let address: String
    let reason: String
    var description: String { "cannot listen on \(address): \(reason)" }
}

/// One server per data dir: an exclusive `flock` on `data-dir/server.lock`.
struct DataDirLock {
    let fd: Int32

    init(_ dataDir: String) throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        fd = open(dataDir + "/server.lock", O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot open \(dataDir)/server.lock: \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            throw ValidationError("\(dataDir) is already in use by another placement-ledger server")
        }
    }

    func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
