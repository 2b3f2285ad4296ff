import ArgumentParser
import Foundation
import Hummingbird
import LedgerStore
import Logging
import PlacementAPI

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the Placement API.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8778
    @Option(help: "Data directory (created on first run).") var dataDir = "./data"
    @Option(help: "Largest request body accepted, in bytes (larger gets 413).") var maxBodyBytes = 1 << 20

    func run() async throws {
        let lock = try DataDirLock(dataDir)
        defer { lock.release() }
        let store = try LedgerStore(path: dataDir)
        let feed = CommitFeed(last: try store.lastSequence())
        let writer = Writer(store: store, onCommit: { feed.publish($0) })
        let api = PlacementAPI(store: store, writer: writer, feed: feed)
        var logger = Logger(label: "placement-ledger")
        logger.logLevel = .notice
        let app = Application(
            responder: PlacementResponder(api: api, limits: RequestLimits(maxBodyBytes: maxBodyBytes)),
            server: PlacementResponder.http1Server(),
            configuration: .init(address: .hostname(host, port: port), serverName: "placement-ledger"),
            logger: logger)
        let last = try store.lastSequence()
        logger.notice("serving Placement on \(host):\(port), data in \(dataDir), log at sequence \(last)")
        // SIGTERM/SIGINT: stop accepting, finish in-flight requests, then commit what is queued.
        try await app.runService()
        writer.stop()
        try store.env.sync()
        logger.notice("stopped")
    }
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
