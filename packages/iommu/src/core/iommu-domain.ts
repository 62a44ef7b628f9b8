import type { EventBus, Mm } from '@sharedbuf/platform';
import type { PgtableFormat } from '../hardware/iommu-hardware.js';
import type { ArmLpaeS1Pgtable } from '../io-pgtable/arm-lpae-s1.js';
import type { IovaDomain } from '../iova/iova-domain.js';
import type { DomainTlb } from './domain-tlb.js';
import type { DomainType } from './domain-type.js';
import type { IommuEvents } from './iommu-events.js';
import type { IommuFaultHandler } from './iommu-fault.js';
import type { IommuGroup } from './iommu-group.js';
import type { IommuInstance } from './iommu-instance.js';

/** The IOVA window a domain can translate (`struct iommu_domain_geometry`). */
export interface DomainGeometry {
  readonly apertureStart: number;
  /** Last translatable IOVA, inclusive. */
  readonly apertureEnd: number;
}

/**
 * An IOMMU domain (`struct iommu_domain`): an address space devices are attached to. Paging domains
 * (`unmanaged`, `dma`) own an ARM LPAE IO page table in simulated memory; a `dma` domain also owns the
 * IOVA allocator the DMA API takes addresses from; an `sva` domain shares a process's mm.
 *
 * A domain allocated for a specific instance (`owner`) attaches only there; one allocated without an
 * owner may span every instance whose page-table format agrees (one domain per guest across all
 * IOMMUs, the KVM case of seed 001).
 */
export class IommuDomain {
  /** Groups attached (as their main domain or at a PASID). */
  readonly groups = new Set<IommuGroup>();
  /** The fault handler (`iommu_set_fault_handler`). */
  faultHandler: IommuFaultHandler | undefined;
  /** Set when freed: any later use is refused. */
  freed = false;
  /** Upper bound of every IOVA ever mapped (+1), to judge whether a narrower instance can attach. */
  mappedEnd = 0;
  /** For `sva` domains: set when the process's mm went away (exit): every access then faults. */
  mmGone = false;

  constructor(
    readonly id: number,
    readonly type: DomainType,
    /** The instance the domain was allocated for, if any. */
    readonly owner: IommuInstance | undefined,
    readonly format: PgtableFormat,
    /** Page sizes maps may use (`pgsize_bitmap`), narrowed by each instance attached. */
    public pgsizeBitmap: number,
    public geometry: DomainGeometry,
    readonly pgtable: ArmLpaeS1Pgtable | undefined,
    readonly iovad: IovaDomain | undefined,
    /** TLB maintenance across the instances that walk the tables. */
    readonly tlb: DomainTlb,
    /** The IOMMU core's event bus. */
    readonly bus: EventBus<IommuEvents>,
    /** For `sva` domains: the process address space and its PASID. */
    readonly mm: Mm | undefined = undefined,
    readonly pasid = -1,
  ) {}

  /** Instances whose hardware walks this domain's tables (holds one of their contexts). */
  get instances(): ReadonlySet<IommuInstance> {
    return this.tlb.instances;
  }

  /** A short description for messages: `dma domain 3 (smmu0)`. */
  describe(): string {
    return `${this.type} domain ${this.id}${this.owner ? ` (${this.owner.name})` : ''}`;
  }
}
