import LedgerAudit
import LedgerStore
import Ledger

/// Thin helpers over `Audit` for the tests.
struct LedgerAuditFacade {
    let audit: Audit
    init(store: LedgerStore) { audit = Audit(store: store) }

    func consumerSequences(_ uuid: String) throws -> [UInt64] {
        try audit.consumerHistory(uuid, limit: 100_000).events.compactMap { $0["seq"]?.intValue.map(UInt64.init) }
    }

    func providerUsages(_ uuid: String) throws -> [(UInt64, [String: Int64])] {
        try audit.providerHistory(uuid, limit: 100_000).points.filter(\.exists).map { ($0.event.seq, $0.usages) }
    }
}
