import { describeDashboard } from './dashboardBehaviour';

describeDashboard('a phone', { width: 390, height: 844 });
