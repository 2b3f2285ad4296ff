import Testing
@testable import Ledger

/// The rules, pure: decide + apply over an in-memory store.
@Suite struct RulesTests {
    func ledgerWithProvider(vcpu: Int64 = 8, disk: Int64? = nil, ratio: Double = 1.0, reserved: Int64 = 0,
                            minUnit: Int64 = 1, maxUnit: Int64 = Limits.maxInt, step: Int64 = 1) throws -> Ledgerish {
        let l = Ledgerish()
        try l.accept(.createProvider(uuid: rp1, name: "rp1", parent: nil))
        var invs = [("VCPU", InventoryRecord(total: vcpu, reserved: reserved, minUnit: minUnit, maxUnit: maxUnit, stepSize: step, allocationRatio: ratio))]
        if let disk { invs.append(("DISK_GB", InventoryRecord(total: disk))) }
        try l.accept(.setInventories(provider: rp1, generation: 0, inventories: invs, reservedMayEqualTotal: true))
        return l
    }

    @Test func capacityIsTotalMinusReservedTimesRatio() throws {
        let l = try ledgerWithProvider(vcpu: 4, ratio: 2.0, reserved: 1)  // capacity 6
        try l.accept(alloc(c1, [(rp1, [("VCPU", 6)])]))
        let r = try l.reject(alloc(c2, [(rp1, [("VCPU", 1)])]))
        #expect(r?.status == 409)
        #expect(r?.detail.contains("The requested amount would exceed the capacity.") == true)
    }

    @Test func consumersOwnOldAllocationsDoNotCount() throws {
        let l = try ledgerWithProvider(vcpu: 4)
        try l.accept(alloc(c1, [(rp1, [("VCPU", 4)])]))
        try l.accept(alloc(c1, [(rp1, [("VCPU", 3)])]))  // replaces, does not add
        #expect(try l.views.provider(rp1)?.usages["VCPU"] == 3)
    }

    @Test func overCapacityWriteAcceptedWhenItDoesNotIncreaseUsage() throws {
        let l = try ledgerWithProvider(vcpu: 8)
        try l.accept(alloc(c1, [(rp1, [("VCPU", 8)])]))
        // Shrink the inventory under the allocation: Placement allows it.
        try l.accept(.setInventories(provider: rp1, generation: 2, inventories: [("VCPU", InventoryRecord(total: 4))], reservedMayEqualTotal: true))
        try l.accept(alloc(c1, [(rp1, [("VCPU", 6)])]))       // reduces the overage: accepted
        #expect(try l.reject(alloc(c1, [(rp1, [("VCPU", 7)])]))?.status == 409)  // increases it again
    }

    @Test func unitConstraintsApplyToEachAmount() throws {
        let l = try ledgerWithProvider(vcpu: 64, minUnit: 2, maxUnit: 16, step: 2)
        for bad: Int64 in [1, 3, 18] {
            let r = try l.reject(alloc(c1, [(rp1, [("VCPU", bad)])]))
            #expect(r?.detail.contains("would violate inventory constraints") == true, "amount \(bad)")
        }
        try l.accept(alloc(c1, [(rp1, [("VCPU", 4)])]))
    }

    @Test func unknownClassIs400AndMissingInventoryIs409() throws {
        let l = try ledgerWithProvider()
        #expect(try l.reject(alloc(c1, [(rp1, [("CUSTOM_NOPE", 1)])]))?.status == 400)
        #expect(try l.reject(alloc(c1, [(rp1, [("DISK_GB", 1)])]))?.status == 409)
        #expect(try l.reject(alloc(c1, [(rp2, [("VCPU", 1)])]))?.status == 400)
    }

    @Test func generationsBumpOncePerWriteAndNotOnDelete() throws {
        let l = try ledgerWithProvider(vcpu: 8)
        #expect(try l.views.provider(rp1)?.generation == 1)
        try l.accept(alloc(c1, [(rp1, [("VCPU", 1)])]))
        #expect(try l.views.provider(rp1)?.generation == 2)
        #expect(try l.views.consumer(c1)?.generation == 1)
        try l.accept(alloc(c1, [(rp1, [("VCPU", 2)])]))
        #expect(try l.views.consumer(c1)?.generation == 2)
        try l.accept(.deleteAllocations(consumer: c1))
        #expect(try l.views.provider(rp1)?.generation == 3)
        #expect(try l.views.consumer(c1) == nil)
    }

    @Test func consumerGenerationChecksFrom128() throws {
        let l = try ledgerWithProvider(vcpu: 8)
        #expect(try l.reject(alloc(c1, [(rp1, [("VCPU", 1)])], generation: .some(3)))?.detail
            == "consumer generation conflict - expected null but got 3")
        try l.accept(alloc(c1, [(rp1, [("VCPU", 1)])], generation: .some(nil)))
        let r = try l.reject(alloc(c1, [(rp1, [("VCPU", 2)])], generation: .some(nil)))
        #expect(r?.detail == "consumer generation conflict - expected 1 but got None")
        #expect(r?.code == Rejection.concurrentUpdate)
        try l.accept(alloc(c1, [(rp1, [("VCPU", 2)])], generation: .some(1)))
        // Clearing with {} removes the consumer; the next write starts from null again.
        try l.accept(alloc(c1, [], generation: .some(2)))
        #expect(try l.views.consumer(c1) == nil)
        try l.accept(alloc(c1, [(rp1, [("VCPU", 1)])], generation: .some(nil)))
    }

    @Test func inventoryInUseCannotBeRemoved() throws {
        let l = try ledgerWithProvider(vcpu: 8, disk: 100)
        try l.accept(alloc(c1, [(rp1, [("VCPU", 1), ("DISK_GB", 1)])]))
        let r = try l.reject(.deleteInventories(provider: rp1))
        #expect(r?.code == Rejection.inventoryInUse)
        #expect(r?.detail == "Inventory for 'VCPU, DISK_GB' on resource provider '\(rp1)' in use.")
        #expect(try l.reject(.deleteProvider(uuid: rp1))?.code == Rejection.providerInUse)
    }

    @Test func reservedEqualToTotalOnlyFrom126() throws {
        let l = Ledgerish()
        try l.accept(.createProvider(uuid: rp1, name: "rp1", parent: nil))
        let inv = InventoryRecord(total: 4, reserved: 4)
        #expect(try l.reject(.setInventories(provider: rp1, generation: 0, inventories: [("VCPU", inv)], reservedMayEqualTotal: false))?.status == 400)
        try l.accept(.setInventories(provider: rp1, generation: 0, inventories: [("VCPU", inv)], reservedMayEqualTotal: true))
    }

    @Test func providerTreeRootsFollowReparenting() throws {
        let l = Ledgerish()
        let child = "33333333-3333-4333-8333-333333333333"
        try l.accept(.createProvider(uuid: rp1, name: "a", parent: nil))
        try l.accept(.createProvider(uuid: rp2, name: "b", parent: nil))
        try l.accept(.createProvider(uuid: child, name: "c", parent: rp1))
        #expect(try l.views.provider(child)?.root == rp1)
        #expect(try l.reject(.updateProvider(uuid: rp1, name: "a", parent: .some(child), allowReparenting: true))?.detail
            .contains("creating loop in the provider tree is not allowed.") == true)
        try l.accept(.updateProvider(uuid: rp1, name: "a", parent: .some(rp2), allowReparenting: true))
        #expect(try l.views.provider(child)?.root == rp2)
        #expect(try l.reject(.deleteProvider(uuid: rp1))?.code == Rejection.cannotDeleteParent)
    }

    @Test func noOpWritesProduceNoEvents() throws {
        let l = Ledgerish()
        try l.accept(.ensureResourceClass(name: "CUSTOM_X"))
        let before = l.events.count
        try l.accept(.ensureResourceClass(name: "CUSTOM_X"))
        try l.accept(.ensureTrait(name: "HW_CPU_X86_AVX"))
        #expect(l.events.count == before)
    }

    @Test func renamedClassFollowsIntoInventoriesAndAllocations() throws {
        let l = Ledgerish()
        try l.accept(.createResourceClass(name: "CUSTOM_OLD"))
        try l.accept(.createProvider(uuid: rp1, name: "a", parent: nil))
        try l.accept(.setInventories(provider: rp1, generation: 0, inventories: [("CUSTOM_OLD", InventoryRecord(total: 5))], reservedMayEqualTotal: true))
        try l.accept(alloc(c1, [(rp1, [("CUSTOM_OLD", 2)])]))
        try l.accept(.renameResourceClass(from: "CUSTOM_OLD", to: "CUSTOM_NEW"))
        #expect(try l.views.provider(rp1)?.usages == ["CUSTOM_NEW": 2])
        #expect(try l.views.consumer(c1)?.allocations[rp1] == ["CUSTOM_NEW": 2])
        #expect(try l.views.resourceClassInUse("CUSTOM_NEW"))
    }
}
