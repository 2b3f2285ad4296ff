import Foundation
import Ledger
import LedgerStore
import PlacementJSON

/// The Placement API over one ledger: the store GETs read, the writer every
/// change goes through, and the request schemas.
public final class PlacementAPI: Sendable {
    public let store: LedgerStore
    public let writer: Writer
    let schemas = Schemas()

    public init(store: LedgerStore, writer: Writer) {
        self.store = store
        self.writer = writer
    }

    /// Reads one snapshot of the views.
    func read<T>(_ body: (Views, UInt64) throws -> T) throws -> T {
        try store.read(body)
    }

    /// Sends a command through the group-commit writer and waits for its
    /// durable commit. `after` runs in the write transaction right after the
    /// command's events, to capture what the response shows. The sequence is
    /// nil when the command changed nothing.
    private func submit<T: Sendable>(_ command: Command, _ request: PlacementRequest,
                                     after: @escaping @Sendable (Views) throws -> T) async throws -> (sequence: UInt64?, value: T) {
        switch await writer.submit(command, context: request.eventContext, read: after) {
        case .accepted(let seq, let value):
            return (seq, value)
        case .rejected(let r):
            throw PlacementError(r)
        case .failed(let why):
            if why.contains("MDB_MAP_FULL") || why.contains("No space left") || why.contains("ENOSPC") {
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
