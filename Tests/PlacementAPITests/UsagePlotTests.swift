import Ledger
@testable import LedgerAudit
import Testing

/// The value axis of `audit provider --plot` and `GET /ledger/.../usage.svg`.
@Suite struct UsagePlotTests {
    @Test func largeTicksAreShortAndWhole() {
        #expect(UsagePlot.tickLabel(0) == "0")
        #expect(UsagePlot.tickLabel(768) == "768")
        #expect(UsagePlot.tickLabel(750_000) == "750000")
        #expect(UsagePlot.tickLabel(1_000_000) == "1M")
        #expect(UsagePlot.tickLabel(1_500_000) == "1.5M")
        #expect(UsagePlot.tickLabel(10_000_000) == "10M")
        #expect(UsagePlot.tickLabel(2_250_000_000) == "2.25G")
        #expect(UsagePlot.tickLabel(262.5) == "262.5")
    }

    /// A MEMORY_MB capacity of a million had ticks of "250000.0" …
    /// "1000000.0": the scaled-up panel height divided back down was not a
    /// whole number, and the longest label ran past the left edge.
    @Test func ticksAreQuartersOfTheLargestValue() {
        let context = EventContext(requestID: "req-1", actor: Actor(user: "u", project: "p"), microversion: "1.39")
        let points = (1...3).map { n in
            Audit.ProviderPoint(
                event: Event(seq: UInt64(n), time: Micros(n) * 1_000_000, context: context, payload: .resourceClassCreated(name: "CUSTOM_X")),
                generation: Int64(n), usages: ["MEMORY_MB": Int64(n) * 512, "VCPU": Int64(n)],
                capacity: ["MEMORY_MB": 1_000_000, "VCPU": 1024], exists: true)
        }
        let svg = UsagePlot.svg(provider: "rp", name: "rp", points: points, now: 5_000_000)
        for tick in ["0", "250000", "500000", "750000", "1M", "256", "512", "768", "1024"] {
            #expect(svg.contains("fill=\"#555\">\(tick)</text>"), "no tick \(tick)")
        }
        #expect(!svg.contains(".0</text>"))
        #expect(svg.contains("capacity 1000000</text>"))
    }
}
