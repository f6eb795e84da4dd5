/* The runtime's pallet table, in index order (indices as tfchain's 2023
 * runtime: TfgridModule 11, SmartContractModule 12, Utility 23). */
#include "devchain/runtime.h"

const struct dev_pallet *const dev_pallets[] = {
	&dev_pallet_system,
	&dev_pallet_timestamp,
	&dev_pallet_balances,
	&dev_pallet_tfgrid,
	&dev_pallet_smartcontract,
	&dev_pallet_utility,
};

const size_t dev_npallets = sizeof(dev_pallets) / sizeof(dev_pallets[0]);
