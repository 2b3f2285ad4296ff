import Foundation
import Ledger
import LedgerAudit
import LedgerStore
import PlacementJSON

/// The Placement API over one ledger: the store GETs read, the writer every
/// change goes through, and the request schemas.
public final class PlacementAPI: Sendable {
    public let store: LedgerStore
    public let writer: Writer
    /// Wakes the live event feed after each commit (the writer publishes to it).
    public let feed: CommitFeed
    let schemas = Schemas()

    public init(store: LedgerStore, writer: Writer, feed: CommitFeed) {
        self.store = store
        self.writer = writer
        self.feed = feed
    }

    /// Reads one snapshot of the views (for a pre-check of a write).
    func read<T>(_ body: (Views, UInt64) throws -> T) throws -> T {
        try store.read(body)
    }

    /// Reads the views a GET answers from: now, or as of the point the
    /// request's `X-Ledger-As-Of` named. The same serializers run on both.
    func read<T>(_ req: PlacementRequest, _ body: (Views, UInt64) throws -> T) throws -> T {
        if let asOf = req.asOf { return try store.read(asOf: asOf, body) }
        return try store.read(body)
    }

    /// Resolves an `X-Ledger-As-Of` value (a sequence number or an RFC 3339
    /// time) to the sequence number of the event it names.
    func resolveAsOf(_ value: String, method: String) throws -> UInt64 {
        guard method == "GET" else {
            throw PlacementError.badRequest("X-Ledger-As-Of is only accepted on GET requests; a write always applies to the present.")
        }
        let last = try store.lastSequence()
        let v = value.trimmed
        if !v.isEmpty, v.allSatisfy(\.isNumber) {
            guard let seq = UInt64(v), seq >= 1, seq <= last else {
                throw PlacementError.badRequest("X-Ledger-As-Of: sequence \(v) is not in the log, which holds events 1 to \(last).")
            }
            return seq
        }
        guard let time = parseRFC3339(v) else {
            throw PlacementError.badRequest("X-Ledger-As-Of must be an event sequence number or an RFC 3339 time (2026-11-29T18:00:00Z), got '\(value)'.")
        }
        if time > nowMicros() {
            throw PlacementError.badRequest("X-Ledger-As-Of: \(v) is in the future.")
        }
        let seq = try store.sequence(atOrBefore: time)
        guard seq >= 1 else {
            let first = try store.time(of: 1).map(formatRFC3339) ?? "none yet"
            throw PlacementError.badRequest("X-Ledger-As-Of: \(v) is before the first event of the log (\(first)).")
        }
        return seq
    }

    /// Sends a command through the group-commit writer and waits for its
    /// durable commit. `after` runs right after the command's events are
    /// folded, on the views as they then stand, to capture what the response
    /// shows. The sequence is
    /// nil when the command changed nothing.
    private func submit<T: Sendable>(_ command: Command, _ request: PlacementRequest,
                                     after: @escaping @Sendable (Views) throws -> T) async throws -> (sequence: UInt64?, value: T) {
        switch await writer.submit(command, context: request.eventContext, read: after) {
        case .accepted(let seq, let value):
            return (seq, value)
        case .rejected(let r):
            throw PlacementError(r)
        case .failed(let why):
            if why.contains("MDB_MAP_FULL") || why.contains("No space left") || why.contains("ENOSPC") || why.contains("File too large") {
                throw PlacementError(507, "The ledger could not store the change: the disk is full. Nothing was written. (\(why))")
            }
            throw PlacementError(503, "The ledger could not store the change; nothing was written. (\(why))")
        }
    }

    /// A write; returns the sequence its answer reflects and what `after` saw.
    func write<T: Sendable>(_ command: Command, _ request: PlacementRequest,
                            after: @escaping @Sendable (Views) throws -> T) async throws -> (sequence: UInt64, value: T) {
        let (seq, value) = try await submit(command, request, after: after)
        return (try seq ?? store.lastSequence(), value)
    }

    /// A write whose response needs nothing from the views.
    func write(_ command: Command, _ request: PlacementRequest) async throws -> UInt64 {
        try await writeChanged(command, request).sequence
    }

    /// A write that may be a no-op (a PUT of what exists): whether it changed anything.
    func writeChanged(_ command: Command, _ request: PlacementRequest) async throws -> (sequence: UInt64, changed: Bool) {
        let (seq, _) = try await submit(command, request) { _ in () }
        return (try seq ?? store.lastSequence(), seq != nil)
    }
}
