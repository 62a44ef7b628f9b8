import { dmabufFigures } from './figures/dmabuf.js';

const quick = process.argv.includes('--quick');
console.log(dmabufFigures.run({ quick, log: (l) => console.log(l) }));
