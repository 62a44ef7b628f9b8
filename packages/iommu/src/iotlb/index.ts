export { Iotlb, type IotlbEvents, type IotlbOptions } from './iotlb.js';
export { type IotlbFlushTarget, IotlbGather } from './iotlb-gather.js';
