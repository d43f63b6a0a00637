import { describeDashboard } from './dashboardBehaviour';

describeDashboard('a laptop', { width: 1440, height: 900 });
